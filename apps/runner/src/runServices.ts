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
  const best = options.retention?.best;
  const bestBy = best === undefined ? undefined : { metric: best.metric, mode: best.mode };
  const wandbOf = (): WandbSink | undefined => {
    const sink = holder.logger?.getSink('wandb');
    return sink instanceof WandbSink ? sink : undefined;
  };
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
    // Committed checkpoints become versions of the W&B run's model artifact
    // (`logging.wandb.logCheckpoints`); staging them is synchronous, the upload is not.
    afterSave: (step, c) => {
      wandbOf()?.logCheckpoint({ step, dir: c.path, metrics: c.metrics, best: bestBy });
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
  const wandb = wandbOf();
  if (wandb !== undefined) {
    wandb.setSystemProbe(await gpuProbe(options.backend));
    try {
      // WANDB_RESUME: `must` for a run that does not exist, `never` for one that does: exit 2.
      await wandb.verifyResume();
    } catch (err) {
      await log.close({ exitCode: 2, preempting: false }).catch(() => undefined);
      throw err;
    }
  }
  const resumeCheckpoint = ckpt.resume.bind(ckpt);
  ckpt.resume = async (components) => {
    const point = await resumeCheckpoint(components);
    if (resume) await log.rewind(point.restored === undefined ? -1 : point.step);
    // A crash between a checkpoint's commit and its artifact record: log it now (once).
    if (point.restored !== undefined) {
      wandbOf()?.logCheckpoint({
        step: point.step,
        dir: point.restored.path,
        metrics: point.restored.metrics,
        best: bestBy,
      });
    }
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
 * GPU memory for W&B's system metrics on a GPU backend (WebGPU, TensorFlow with CUDA): the bytes
 * tfjs holds in tensors, as `gpu.0.memoryAllocatedBytes` (W&B's key). CPU backends report none.
 */
async function gpuProbe(backend: BackendInfo): Promise<(() => Record<string, number>) | undefined> {
  const onGpu = backend.name === 'webgpu' || backend.packageName.endsWith('-gpu');
  if (!onGpu) return undefined;
  // Loaded here, not at import: the runner keeps tfjs out of commands that fail on their flags.
  const { tf } = await import('@x/tensor');
  return () => ({ 'gpu.0.memoryAllocatedBytes': tf.memory().numBytes });
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
  if (st.unsentLines === 0 && st.artifactsPending === 0) return;
  const where = sink.dir ?? `${runDir}/wandb`;
  const what = `${st.unsentHistoryLines} W&B history row(s)${st.unsentLines > st.unsentHistoryLines ? ` and ${st.unsentLines - st.unsentHistoryLines} console line(s)` : ''}${st.artifactsPending > 0 ? ` and ${st.artifactsPending} checkpoint artifact version(s)` : ''}`;
  const hint = `runner wandb sync ${runDir}`;
  if (st.mode === 'offline') out.info(`${what} logged offline to ${where}; upload with: ${hint}`);
  else
    out.warn(
      `${what} not acknowledged by the W&B server; kept in ${where}; finish the upload with: ${hint}`,
    );
}
