import { join } from 'node:path';
import { consoleSink } from './console/consoleSink.js';
import { parseLoggingConfig, type LoggingConfig } from './config.js';
import { ExperimentLogger, type SinkEntry } from './experimentLogger.js';
import { jsonlSink } from './sinks/jsonlSink.js';
import { svgSink } from './svg/svgSink.js';
import { tensorboardSink } from './tensorboard/tensorboardSink.js';
import type { NoticeRecord, Sink } from './types.js';
import { createWandbSink } from './wandb/wandbSink.js';

/** Options of {@link createRunLogger}. */
export interface RunLoggerOptions {
  /** The run directory (`logs/`, `logs/tb/`, `svg/`, `wandb/` go under it). */
  runDir: string;
  /** The pipeline's short name (`ired`, `timestepper`, …). */
  pipeline: string;
  /** The run's resolved config (TensorBoard text, W&B config). */
  config: Record<string, unknown>;
  /**
   * The logging section (raw or parsed). Default: `config.logging` when present, else defaults.
   */
  logging?: unknown;
  /** `--quiet`: no live view; errors still reach stderr. */
  quiet?: boolean;
  /** Total steps of the run (progress bar, ETA). */
  totalSteps?: number;
  /** The step the run starts at (the resumed checkpoint's step, or 0). */
  startStep?: number;
  /** True when resuming from a checkpoint. */
  resumed?: boolean;
  /** The run's root seed (batch sampling streams). */
  seed?: number;
  /** Console stream (default `process.stderr`). */
  stream?: NodeJS.WriteStream;
  /** Sinks added after the standard ones. */
  extraSinks?: readonly (Sink | SinkEntry)[];
  /** Create the W&B sink when the environment or `logging.wandb` turns it on. Default true. */
  wandb?: boolean;
  /** Environment for the W&B settings (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Flush on SIGINT/SIGTERM (then exit 130/143) and write what is buffered on an uncaught
   * exception. Handlers are removed by `close()`. Default true.
   */
  handleSignals?: boolean;
}

/**
 * The logger of one `train` run, wired per the contract's run directory: console (live view on a
 * TTY), `logs/metrics.jsonl` + `logs/episodes.jsonl`, TensorBoard files in `logs/tb/`, pictures
 * and charts in `svg/`, and W&B when switched on. Each sink's cadence comes from
 * `logging.sinks.<name>.every`.
 *
 * @example
 * const logger = createRunLogger({ runDir, pipeline: 'ired', config, totalSteps: 1000 });
 * try {
 *   for (let step = 0; step < 1000; step++) logger.log({ loss }, { step });
 * } finally {
 *   await logger.close({ exitCode: 0, preempting: false });
 * }
 */
export function createRunLogger(options: RunLoggerOptions): ExperimentLogger {
  const raw = options.logging ?? options.config['logging'];
  const cfg: LoggingConfig = parseLoggingConfig(raw);
  const s = cfg.sinks;
  const sinks: (Sink | SinkEntry)[] = [];
  if (s.console.enabled) {
    sinks.push({
      sink: consoleSink({
        stream: options.stream,
        quiet: options.quiet,
        maxPerCategory: s.console.maxPerCategory,
      }),
      every: s.console.every,
    });
  }
  if (s.jsonl.enabled)
    sinks.push({ sink: jsonlSink({ maxBytes: s.jsonl.maxBytes }), every: s.jsonl.every });
  if (s.tensorboard.enabled) {
    sinks.push({
      sink: tensorboardSink({
        configText: s.tensorboard.configText,
        dir: join(options.runDir, 'logs', 'tb'),
      }),
      every: s.tensorboard.every,
    });
  }
  if (s.svg.enabled) {
    sinks.push({
      sink: svgSink({
        charts: s.svg.charts,
        maxPictures: s.svg.maxPictures,
        maxPoints: s.svg.maxPoints,
      }),
      every: s.svg.every,
    });
  }
  let notify: (n: NoticeRecord) => void = () => undefined;
  if (options.wandb !== false) {
    const wandb = createWandbSink({
      config: cfg.wandb,
      env: options.env ?? process.env,
      onNotice: (n) => notify(n),
    });
    if (wandb !== undefined) sinks.push(wandb);
  }
  sinks.push(...(options.extraSinks ?? []));
  const stream = options.stream ?? process.stderr;
  const logger = new ExperimentLogger({
    run: {
      runDir: options.runDir,
      pipeline: options.pipeline,
      config: options.config,
      totalSteps: options.totalSteps,
      startStep: options.startStep ?? 0,
      resumed: options.resumed ?? false,
    },
    sinks,
    config: cfg,
    seed: options.seed ?? (typeof options.config['seed'] === 'number' ? options.config['seed'] : 0),
    onNotice: (n) => {
      if (n.level === 'error' && !s.console.enabled) stream.write(`error: ${n.message}\n`);
    },
  });
  notify = (n) => logger.notice(n.level, n.message, n.source);
  if (options.handleSignals !== false) closeOnSignals(logger);
  return logger;
}

/**
 * Makes `logger` flush on SIGINT/SIGTERM (close within `logging.closeTimeoutSeconds`, then exit
 * with 130/143; SIGTERM closes as `preempting`) and hand buffered data to its sinks, written
 * synchronously, on an uncaught exception or a `process.exit()` without `close()`. Returns a
 * function that removes the handlers; `close()` removes them too.
 */
export function closeOnSignals(logger: ExperimentLogger): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    remove();
    logger.flushNow();
    void logger
      .close({ exitCode: code, preempting: signal === 'SIGTERM' })
      .finally(() => process.exit(code));
  };
  const onCrash = () => {
    if (!logger.closed) logger.flushNow();
  };
  const remove = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtExceptionMonitor', onCrash);
    process.off('exit', onCrash);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtExceptionMonitor', onCrash);
  // Sinks write in the background: a process.exit() without close() still gets every
  // committed row into JSONL and TensorBoard (written synchronously, not fsynced).
  process.on('exit', onCrash);
  logger.onClose(remove);
  return remove;
}
