import { openRunCheckpoints, type RunCheckpoints } from '@x/checkpoint';
import { createRunLogger, type ExperimentLogger } from '@x/logging';
import type { BackendInfo } from '@x/tensor';
import type { Output } from './command.js';

/** The checkpoints and the logger of one `train` run. */
export interface RunServices {
  ckpt: RunCheckpoints;
  logger: ExperimentLogger;
}

/**
 * Opens a training run's checkpoint manager (`--save-every`, `--resume`) and its logger (all
 * sinks of the run directory, starting at the newest checkpoint's step when resuming). Signals
 * are the runner's to handle, so the logger installs no handlers of its own.
 */
export async function openRunServices(options: {
  runDir: string;
  pipeline: string;
  config: { seed: number; steps: number; saveEvery: number } & Record<string, unknown>;
  resume: boolean;
  quiet?: boolean;
  backend: BackendInfo;
  out: Output;
}): Promise<RunServices> {
  const { runDir, config, resume } = options;
  const ckpt = openRunCheckpoints(runDir, {
    saveEvery: config.saveEvery,
    resume,
    versions: { tfjs: options.backend.tfjsVersion, backend: options.backend.name },
    onWarning: (m) => options.out.warn(m),
  });
  const startStep = resume ? ((await ckpt.manager.latest()) ?? 0) : 0;
  const logger = createRunLogger({
    runDir,
    pipeline: options.pipeline,
    config,
    quiet: options.quiet,
    totalSteps: config.steps,
    startStep,
    resumed: resume && startStep > 0,
    seed: config.seed,
    handleSignals: false,
  });
  return { ckpt, logger };
}
