import { openRunCheckpoints, type RetentionPolicy, type RunCheckpoints } from '@x/checkpoint';
import { WandbSink, createRunLogger, type ExperimentLogger } from '@x/logging';
import type { BackendInfo } from '@x/tensor';
import type { Output } from './command.js';

/** The checkpoints and the logger of one `train` run. */
export interface RunServices {
  ckpt: RunCheckpoints;
  logger: ExperimentLogger;
}

/**
 * Opens a training run's checkpoint manager (`--save-every`, `--resume`) and its logger (all
 * sinks of the run directory). Signals are the runner's to handle, so the logger installs no
 * handlers of its own.
 *
 * Logs and checkpoints agree: before checkpoint S is captured, `logger.flush({durable: true})`
 * makes every row up to S durable in each local sink (JSONL, TensorBoard, W&B spool); after
 * `ckpt.resume` restores checkpoint S, `logger.rewind(S)` drops what an interrupted process
 * logged after S (a resumed run without a checkpoint rewinds to -1 and starts its logs afresh).
 */
export async function openRunServices(options: {
  runDir: string;
  pipeline: string;
  config: { seed: number; steps: number; saveEvery: number } & Record<string, unknown>;
  resume: boolean;
  quiet?: boolean;
  backend: BackendInfo;
  out: Output;
  /** Which checkpoints to keep (`--keep-last`, `--keep-best`; default all). */
  retention?: RetentionPolicy;
}): Promise<RunServices> {
  const { runDir, config, resume } = options;
  const holder: { logger?: ExperimentLogger } = {};
  const ckpt = openRunCheckpoints(runDir, {
    saveEvery: config.saveEvery,
    resume,
    ...(options.retention === undefined ? {} : { retention: options.retention }),
    versions: { tfjs: options.backend.tfjsVersion, backend: options.backend.name },
    onWarning: (m) => options.out.warn(m),
    beforeSave: async () => {
      const failed = (await holder.logger?.flush({ durable: true })) ?? [];
      if (failed.length > 0) {
        options.out.warn(
          `log sink(s) ${failed.join(', ')} could not be made durable before this checkpoint; their logs may miss steps after a crash`,
        );
      }
    },
  });
  // The newest listed step is only a first guess (progress bar, TensorBoard's session start):
  // the sinks are rewound to the step actually restored once ckpt.resume() has run.
  const startStep = resume ? ((await ckpt.manager.latest()) ?? 0) : 0;
  const log = createRunLogger({
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
  holder.logger = log;
  const resumeCheckpoint = ckpt.resume.bind(ckpt);
  ckpt.resume = async (components) => {
    const point = await resumeCheckpoint(components);
    if (resume) await log.rewind(point.restored === undefined ? -1 : point.step);
    return point;
  };
  const close = log.close.bind(log);
  log.close = async (info) => {
    await close(info);
    reportUnsent(log, runDir, options.out);
  };
  return { ckpt, logger: log };
}

/**
 * At the end of a run, says how many W&B history rows the server has not acknowledged (offline
 * runs, a server that was down or failing) and the command that finishes the upload. Training
 * itself succeeded, so the exit code stays 0; the message is a warning when an online upload
 * failed and information for an offline run.
 */
function reportUnsent(logger: ExperimentLogger, runDir: string, out: Output): void {
  const sink = logger.getSink('wandb');
  if (!(sink instanceof WandbSink)) return;
  const st = sink.stats();
  if (st.unsentLines === 0) return;
  const where = sink.dir ?? `${runDir}/wandb`;
  const what = `${st.unsentHistoryLines} W&B history row(s)${st.unsentLines > st.unsentHistoryLines ? ` and ${st.unsentLines - st.unsentHistoryLines} console line(s)` : ''}`;
  const hint = `runner wandb sync ${runDir}`;
  if (st.mode === 'offline') out.info(`${what} logged offline to ${where}; upload with: ${hint}`);
  else
    out.warn(
      `${what} not acknowledged by the W&B server; kept in ${where}; finish the upload with: ${hint}`,
    );
}
