import { captureSnapshot, stateDigest, type ComponentMap } from '@x/core';
import type { ExperimentLogger } from '@x/logging';
import type { BackendInfo } from '@x/tensor';
import type { Output } from './command.js';
import { openRunServices } from './runServices.js';
import type { CheckpointPolicy, TrainSetup } from './runSetup.js';

/** Yields to the event loop: signals, timers (the live view) and I/O run between steps. */
export function yieldToLoop(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

/** What a pipeline plugs into {@link runTrainLoop}. */
export interface TrainPipeline {
  /** Everything checkpointed besides the logger. */
  components: ComponentMap;
  /** Recorded in every checkpoint's manifest (config the model needs to be loaded). */
  metadata: Record<string, unknown>;
  /** Runs and logs step `step` (1-based); returns the metrics recorded with a checkpoint. */
  step(step: number, logger: ExperimentLogger): Promise<Record<string, number>>;
  /** Work after the last step (pictures); returns output paths. */
  finish?(logger: ExperimentLogger): string[];
  dispose(): void;
}

/** How a train run ended. */
export interface TrainLoopOutcome {
  step: number;
  /** The metrics of the last step (undefined when no step ran). */
  metrics: Record<string, number> | undefined;
  interrupted: boolean;
  outputs: string[];
  /** State digest of the pipeline's components (without the logger) at the end. */
  digest: string;
}

type RunFields = {
  seed: number;
  steps: number;
  saveEvery: number;
  checkpoint: CheckpointPolicy;
} & Record<string, unknown>;

function retentionOf(p: CheckpointPolicy) {
  return {
    ...(p.keepLast === undefined ? {} : { keepLast: p.keepLast }),
    ...(p.keepBest === undefined
      ? {}
      : { best: { metric: p.keepBest.metric, mode: p.keepBest.mode, n: p.keepBest.k } }),
  };
}

/**
 * The one training skeleton of every `train` command: opens the run's checkpoints and logger,
 * resumes, runs steps until `config.steps` or a signal — yielding to the event loop after each
 * step, so SIGTERM/SIGINT is seen within one step and the live view keeps redrawing — saves on
 * the checkpoint policy (every `saveEvery` steps and/or `checkpoint.everySeconds`), writes the
 * final checkpoint, closes the logger and releases the run directory's lock.
 */
export async function runTrainLoop<C extends RunFields>(o: {
  setup: Pick<TrainSetup<C>, 'config' | 'runDir' | 'resume' | 'quiet' | 'lock' | 'provenance'>;
  pipeline: string;
  backend: BackendInfo;
  out: Output;
  signal?: AbortSignal | undefined;
  build: () => TrainPipeline;
}): Promise<TrainLoopOutcome> {
  const { config, runDir } = o.setup;
  const policy = config.checkpoint;
  let plugin: TrainPipeline | undefined;
  let logger: ExperimentLogger | undefined;
  try {
    plugin = o.build();
    const services = await openRunServices({
      runDir,
      pipeline: o.pipeline,
      config: { ...config, provenance: { ...o.setup.provenance, backend: o.backend.name } },
      resume: o.setup.resume,
      quiet: o.setup.quiet,
      backend: o.backend,
      out: o.out,
      retention: retentionOf(policy),
    });
    const { ckpt } = services;
    logger = services.logger;
    const log = logger;
    const components = { ...plugin.components, logger: log };
    let step = (await ckpt.resume(components)).step;
    if (step > 0) log.notice('info', `resumed ${runDir} at step ${step}`, 'runner');
    const metadata = {
      ...plugin.metadata,
      seed: config.seed,
      provenance: { ...o.setup.provenance, backend: o.backend.name },
    };
    let metrics: Record<string, number> | undefined;
    let savedAt = performance.now();
    let warnedMetric = false;
    const save = async (at: number, m: Record<string, number>) => {
      const best = policy.keepBest?.metric;
      if (best !== undefined && !(best in m) && !warnedMetric) {
        warnedMetric = true;
        log.notice(
          'warn',
          `--keep-best ${best}: no such metric at step ${at} (recorded: ${Object.keys(m).join(', ')})`,
          'runner',
        );
      }
      await ckpt.manager.save(at, components, { metrics: m, metadata });
      savedAt = performance.now();
    };
    while (step < config.steps && o.signal?.aborted !== true) {
      metrics = await plugin.step(step + 1, log);
      step++;
      await yieldToLoop();
      if (await ckpt.maybeSave(step, components, { metrics, metadata })) {
        savedAt = performance.now();
      } else if (
        policy.everySeconds !== undefined &&
        step < config.steps &&
        (performance.now() - savedAt) / 1000 >= policy.everySeconds
      ) {
        await save(step, metrics);
      }
    }
    const interrupted = o.signal?.aborted === true && step < config.steps;
    if (interrupted)
      log.notice('warn', `interrupted at step ${step}: writing the final checkpoint`, 'runner');
    await ckpt.finish(
      step,
      components,
      metrics === undefined ? { metadata } : { metrics, metadata },
    );
    const outputs = interrupted ? [] : (plugin.finish?.(log) ?? []);
    const snap = await captureSnapshot(plugin.components);
    let digest: string;
    try {
      digest = stateDigest(snap.state);
    } finally {
      snap.release();
    }
    await log.close({ exitCode: 0, preempting: o.signal?.aborted === true });
    return { step, metrics, interrupted, outputs, digest };
  } catch (err) {
    if (logger !== undefined && !logger.closed)
      await logger.close({ exitCode: 3, preempting: false }).catch(() => undefined);
    throw err;
  } finally {
    plugin?.dispose();
    o.setup.lock.release();
  }
}
