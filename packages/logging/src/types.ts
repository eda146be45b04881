import type { State } from '@x/core';

/** Facts about the run that every sink may need when it starts. */
export interface RunInfo {
  /** The run directory (`<run-dir>` of the contract). */
  runDir: string;
  /** A short name of the pipeline (`ired`, `timestepper`, …). */
  pipeline: string;
  /** The resolved config of the run (written to W&B's config, TensorBoard text, …). */
  config: Record<string, unknown>;
  /** The run's total steps when known (for progress bars and ETA). */
  totalSteps?: number;
  /** The step the run starts at (0, or the resumed checkpoint's step). */
  startStep: number;
  /** True when the run resumes from a checkpoint. */
  resumed: boolean;
  /**
   * Shows a notice to the user through the logger (the console view's warnings, …): retries,
   * spooling, dropped data. Set by the logger; sinks call it from anywhere, any time.
   */
  notify?: (level: NoticeRecord['level'], message: string) => void;
  /** This sink's own config section, when the logging config has one (e.g. `wandb`). */
  sinkConfig?: unknown;
}

/** One committed row of scalar metrics: all values logged for one step, keyed `category/name`. */
export interface MetricRow {
  step: number;
  /** Wall-clock time of the commit, Unix seconds. */
  time: number;
  values: Record<string, number>;
}

/** An episode or sample summary (one per sampled environment, solved puzzle, …). */
export interface EpisodeRecord {
  step: number;
  time: number;
  category: string;
  data: Record<string, unknown>;
}

/** A picture (SVG text) produced at a step. */
export interface PictureRecord {
  step: number;
  time: number;
  /** `category/name`, also the file stem under `svg/`. */
  name: string;
  svg: string;
  /** Where the svg sink wrote it, when it did. */
  path?: string;
}

/** A histogram of values at a step (uniform buckets; `bucketLimits` are the right edges). */
export interface HistogramRecord {
  step: number;
  time: number;
  /** `category/name`. */
  name: string;
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimits: number[];
  bucketCounts: number[];
}

/** A warning or notice shown to the user (dropped steps, failing sinks, retries, spooling). */
export interface NoticeRecord {
  time: number;
  level: 'info' | 'warn' | 'error';
  source: string;
  message: string;
}

/** Options of {@link Sink.flush}. */
export interface FlushOptions {
  /** Resolve only once every item handed to the sink is in its local files, fsynced. */
  durable?: boolean;
}

/** How the run ended, passed to {@link Sink.close}. */
export interface CloseInfo {
  exitCode: number;
  /** True when the process is being preempted (SIGTERM): the run may resume later. */
  preempting: boolean;
}

/**
 * A destination of logged data. The logger calls these methods on its own cadence for the sink
 * and isolates failures: a sink that throws is reported and, after repeated failures, disabled.
 * The logger never calls them on `log()`'s stack: when the cadence is due, the batch is cut
 * then and handed over from a later macrotask (`setImmediate`), batches in order, so encoding
 * runs between the caller's steps; file writes should go to the background as well (the local
 * sinks queue them and write asynchronously). Methods may return a promise: it makes the sink's
 * later data wait and coalesce until it settles.
 */
export interface Sink {
  /** Stable name used in config and messages (`console`, `jsonl`, `tensorboard`, `svg`, `wandb`). */
  readonly name: string;
  start?(run: RunInfo): void | Promise<void>;
  writeRows?(rows: readonly MetricRow[]): void | Promise<void>;
  writeEpisodes?(episodes: readonly EpisodeRecord[]): void | Promise<void>;
  writePicture?(picture: PictureRecord): void | Promise<void>;
  writeNotice?(notice: NoticeRecord): void | Promise<void>;
  writeHistograms?(histograms: readonly HistogramRecord[]): void | Promise<void>;
  /**
   * Makes everything written so far durable or delivered (bounded wait). With `durable`, the
   * sink's local files hold every item handed to it, written and fsynced, when it resolves (the
   * logger calls this before a checkpoint commits).
   */
  flush?(options?: FlushOptions): Promise<void>;
  /**
   * Writes everything handed to the sink to its local files now, synchronously (no fsync): the
   * logger's `flushNow()` calls it from crash and signal handlers, where nothing async runs.
   */
  flushSync?(): void;
  /**
   * Drops everything this run wrote for steps after `step` (`-1`: everything), so that a run
   * resumed from the checkpoint of `step` logs each later step once. Called before new data.
   */
  rewind?(step: number): void | Promise<void>;
  close?(info: CloseInfo): Promise<void>;
  /** Resume state of the sink (e.g. the W&B run id), checkpointed with the logger. */
  getState?(): State;
  setState?(state: State): void;
}
