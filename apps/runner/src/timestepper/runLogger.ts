import {
  ExperimentLogger,
  createWandbSink,
  jsonlSink,
  svgSink,
  tensorboardSink,
  type Sink,
} from '@x/logging';
import type { Output } from '../command.js';

/** The run's logger with every sink of the contract (console notices go to the command output). */
export function timestepperLogger(options: {
  runDir: string;
  config: Record<string, unknown>;
  totalSteps: number;
  startStep: number;
  resumed: boolean;
  seed: number;
  out: Output;
}): ExperimentLogger {
  const sinks: Sink[] = [jsonlSink(), tensorboardSink(), svgSink({ charts: ['train/*'] })];
  const wandb = createWandbSink({});
  if (wandb !== undefined) sinks.push(wandb);
  return new ExperimentLogger({
    run: {
      runDir: options.runDir,
      pipeline: 'timestepper',
      config: options.config,
      totalSteps: options.totalSteps,
      startStep: options.startStep,
      resumed: options.resumed,
    },
    sinks,
    seed: options.seed,
    onNotice: (n) =>
      n.level === 'info' ? options.out.info(n.message) : options.out.warn(n.message),
  });
}
