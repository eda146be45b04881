import type { Command } from '../command.js';
import { ckptCommands } from './ckpt.js';
import { doctorCommand } from './doctor.js';
import { iredCommands } from './ired.js';
import { quickstartCommand } from './quickstart.js';
import { operatorsCommands } from './operators.js';
import { queueCommands } from './queue.js';
import { reportCommand } from './report.js';
import { wandbCommands } from './wandb.js';
import { timestepperCommands } from './timestepper.js';
import { workerCommand } from './worker.js';

/** Every runner command. Pipelines add theirs here. */
export const commands: Command[] = [
  doctorCommand,
  quickstartCommand,
  ...ckptCommands,
  ...iredCommands,
  ...operatorsCommands,
  ...timestepperCommands,
  ...wandbCommands,
  reportCommand,
  ...queueCommands,
  workerCommand,
];
