import type { Command } from '../command.js';
import { doctorCommand } from './doctor.js';
import { quickstartCommand } from './quickstart.js';

/** Every runner command. Pipelines add theirs here. */
export const commands: Command[] = [doctorCommand, quickstartCommand];
