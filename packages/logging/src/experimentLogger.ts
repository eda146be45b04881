import type { Component, State } from '@x/core';
import { XError, assertStateMatches, cloneState } from '@x/core';
import { toFloat64, toScalar } from './arrays.js';
import { aggregateBatch, sampleBatch, type BatchData } from './batched.js';
import type { Cadence, LoggingConfig } from './config.js';
import { defaultLoggingConfig } from './config.js';
import { makeHistogram } from './histogram.js';
import { SinkRunner, type RunnerHost } from './sinkRunner.js';
import type {
  CloseInfo,
  EpisodeRecord,
  FlushOptions,
  NoticeRecord,
  RunInfo,
  Sink,
} from './types.js';

/** Where a logged value belongs: the step and the category (`train`, `eval`, …). */
export interface LogOptions {
  step: number;
  /** Prefix of every name: `category/name` (default `train`). */
  category?: string;
}

/** A sink with its cadence (defaults to every commit). */
export interface SinkEntry {
  sink: Sink;
  every?: Cadence;
}

/** Options of {@link ExperimentLogger}. */
export interface ExperimentLoggerOptions {
  run: Omit<RunInfo, 'notify'>;
  sinks: readonly (Sink | SinkEntry)[];
  /** The validated logging config (defaults when omitted). */
  config?: LoggingConfig;
  /** Seed of the batch-sampling streams (the run's root seed). Default 0. */
  seed?: number;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** Called with every notice, also when no sink shows notices. */
  onNotice?: (notice: NoticeRecord) => void;
}

/** Renders data of one kind (a Sudoku board, an orbit, …) to SVG text. */
export type PictureRenderer = (data: unknown) => string;

/** Resume state of the logger: its step and each sink's state. */
export interface LoggerState {
  [key: string]: State;
  step: number;
  lowerStepCount: number;
  sinks: { [name: string]: State };
}

/** Counters a caller or test may inspect. */
export interface LoggerStats {
  committedRows: number;
  lowerStepCount: number;
  notices: number;
}

interface Pending {
  step: number;
  values: Record<string, number>;
}

/**
 * The one way in for metrics, episodes, histograms and pictures. Values logged for the same step
 * merge into one row; a higher step commits it; a lower step follows `logging.lowerStep`. Each
 * sink receives committed data on its own cadence, off the caller's stack (from a later
 * macrotask; `log()` only buffers), and is disabled after repeated failures while the others go
 * on.
 *
 * @example
 * const logger = new ExperimentLogger({ run, sinks: [jsonlSink(runDir)] });
 * logger.log({ loss: 0.3 }, { step: 1 });
 * logger.log({ acc: 0.9 }, { step: 1, category: 'eval' });
 * await logger.close({ exitCode: 0, preempting: false });
 */
export class ExperimentLogger implements Component<LoggerState> {
  readonly config: LoggingConfig;
  readonly stats: LoggerStats = { committedRows: 0, lowerStepCount: 0, notices: 0 };
  readonly #runners: SinkRunner[];
  readonly #now: () => number;
  readonly #seed: number;
  readonly #onNotice: ((n: NoticeRecord) => void) | undefined;
  readonly #renderers = new Map<string, PictureRenderer>();
  readonly #reported = new Set<string>();
  #pending: Pending | undefined;
  #lastCommitted: number | undefined;
  #floor = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onClose: (() => void)[] = [];

  constructor(options: ExperimentLoggerOptions) {
    this.config = options.config ?? defaultLoggingConfig();
    this.#now = options.now ?? Date.now;
    this.#seed = options.seed ?? 0;
    this.#onNotice = options.onNotice;
    const host: RunnerHost = {
      now: this.#now,
      failed: (r, method, err) => this.#sinkFailed(r, method, err),
      disabled: (r, err) =>
        this.notice(
          'error',
          `sink '${r.name}' disabled after ${r.failuresInRow} failures in a row (last: ${message(err)}); the other sinks and the run go on`,
        ),
      overflow: (r, n) =>
        this.notice(
          'warn',
          `sink '${r.name}' is too slow: dropped its ${n} oldest buffered items so far`,
        ),
    };
    this.#runners = options.sinks.map((s) => {
      const entry: SinkEntry = 'sink' in s ? s : { sink: s };
      return new SinkRunner(entry.sink, entry.every ?? {}, host, this.config.disableAfter);
    });
    const names = new Set<string>();
    for (const r of this.#runners) {
      if (names.has(r.name)) throw new XError('INVALID_CONFIG', `two sinks named '${r.name}'`);
      names.add(r.name);
    }
    for (const r of this.#runners) {
      const run: RunInfo = {
        ...options.run,
        notify: (level, msg) => this.notice(level, msg, r.name),
        sinkConfig: this.#sinkSection(r.name),
      };
      r.start(run);
    }
    const secs = this.#runners
      .map((r) => r.every.seconds)
      .filter((s): s is number => s !== undefined);
    if (secs.length > 0) {
      const period = Math.max(50, Math.min(1000, Math.min(...secs) * 250));
      this.#timer = setInterval(() => this.#tick(), period);
      this.#timer.unref();
    }
  }

  #sinkSection(name: string): unknown {
    const sinks = this.config.sinks as Record<string, unknown>;
    return name in sinks ? sinks[name] : (this.config as Record<string, unknown>)[name];
  }

  /** True once `close()` has started. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` when `close()` starts (e.g. to remove signal handlers). */
  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  /** Names of the sinks, in order. */
  get sinkNames(): string[] {
    return this.#runners.map((r) => r.name);
  }

  /** The sink named `name` (e.g. `wandb`, to read its upload stats at the end of a run). */
  getSink(name: string): Sink | undefined {
    return this.#runners.find((r) => r.name === name)?.sink;
  }

  /** Names of sinks disabled after repeated failures. */
  get disabledSinks(): string[] {
    return this.#runners.filter((r) => r.disabled).map((r) => r.name);
  }

  /** The highest step logged so far (the open row's step), or -1. */
  get step(): number {
    return (
      this.#pending?.step ??
      this.#lastCommitted ??
      (this.#floor === -Infinity ? -1 : this.#floor - 1)
    );
  }

  /**
   * Logs scalar metrics at a step under `category/name`. Booleans count as 0/1, tensors and
   * 1-element arrays as their value; other values are reported once per key and skipped.
   */
  log(metrics: Readonly<Record<string, unknown>>, options: LogOptions): void {
    const { step } = options;
    const category = options.category ?? 'train';
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new XError('INVALID_INPUT', `log(): step must be a non-negative integer, got ${step}`);
    }
    if (!this.#acceptStep(step, category, metrics)) return;
    const pending = this.#pending as Pending;
    for (const key in metrics) {
      const v = metrics[key];
      const x = typeof v === 'number' ? v : toScalar(v);
      const name = `${category}/${key}`;
      if (x === undefined) {
        this.#once(`value:${name}`, 'warn', `'${name}' is not a number (skipped; reported once)`);
        continue;
      }
      pending.values[name] = x;
    }
  }

  #acceptStep(step: number, category: string, metrics: object): boolean {
    if (this.#closed) {
      this.#once('closed', 'warn', `log() after close() ignored (step ${step})`);
      return false;
    }
    const cur = this.#pending?.step ?? this.#lastCommitted;
    if (this.#pending !== undefined && step === this.#pending.step) return true;
    if ((cur === undefined || step > cur) && step >= this.#floor) {
      this.#commit();
      this.#pending = { step, values: {} };
      return true;
    }
    this.stats.lowerStepCount++;
    const n = this.stats.lowerStepCount;
    const keys = Object.keys(metrics);
    const at = cur === undefined ? `resumed step ${this.#floor - 1}` : `step ${cur}`;
    const what = `'${category}' values (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}) at step ${step} after ${at}`;
    switch (this.config.lowerStep) {
      case 'error':
        throw new XError(
          'INVALID_INPUT',
          `${what}: steps must not decrease (logging.lowerStep is 'error')`,
        );
      case 'warn':
        if (n <= 3 || (n & (n - 1)) === 0) {
          this.notice('warn', `dropped ${what}: steps must not decrease (${n} dropped so far)`);
        }
        return false;
      case 'drop':
        if (n === 1) {
          this.notice(
            'info',
            `dropping values logged at lower steps (logging.lowerStep: drop): ${what}`,
          );
        }
        return false;
    }
  }

  #commit(): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    this.#lastCommitted = p.step;
    if (Object.keys(p.values).length === 0) return;
    const row = { step: p.step, time: this.#now() / 1000, values: p.values };
    this.stats.committedRows++;
    for (const r of this.#runners) r.addRow(row);
  }

  /** Logs an episode or sample summary (never merged; delivered on each sink's cadence). */
  logEpisode(data: Record<string, unknown>, options: LogOptions): void {
    if (this.#afterClose('logEpisode')) return;
    const ep: EpisodeRecord = {
      step: options.step,
      time: this.#now() / 1000,
      category: options.category ?? 'episode',
      data,
    };
    for (const r of this.#runners) r.addEpisode(ep);
  }

  /** Logs a histogram of `values` under `category/name` (TensorBoard shows it). */
  logHistogram(name: string, values: unknown, options: LogOptions & { bins?: number }): void {
    if (this.#afterClose('logHistogram')) return;
    const data = toFloat64(values);
    if (data === undefined || data.length === 0) return;
    const full = `${options.category ?? 'train'}/${name}`;
    const h = makeHistogram(full, data, options.step, this.#now() / 1000, options.bins);
    for (const r of this.#runners) r.addHistogram(h);
  }

  /** Registers the renderer of a picture kind (each pipeline registers its own). */
  registerRenderer(kind: string, render: PictureRenderer): void {
    this.#renderers.set(kind, render);
  }

  /** True when a renderer is registered for `kind`. */
  hasRenderer(kind: string): boolean {
    return this.#renderers.has(kind);
  }

  /** Renders `data` with the renderer of `kind` and logs it as picture `category/name`. */
  picture(kind: string, data: unknown, options: LogOptions & { name: string }): void {
    const render = this.#renderers.get(kind);
    if (render === undefined) {
      this.#once(
        `renderer:${kind}`,
        'warn',
        `no renderer registered for pictures of kind '${kind}'`,
      );
      return;
    }
    let svg: string;
    try {
      svg = render(data);
    } catch (err) {
      this.#once(`render:${kind}`, 'warn', `renderer '${kind}' failed: ${message(err)}`);
      return;
    }
    this.logPicture(options.name, svg, options);
  }

  /** Logs ready SVG text as picture `category/name`. */
  logPicture(name: string, svg: string, options: LogOptions): void {
    if (this.#afterClose('logPicture')) return;
    const full = `${options.category ?? 'train'}/${name}`;
    const picture = { step: options.step, time: this.#now() / 1000, name: full, svg };
    for (const r of this.#runners) r.addPicture(picture);
  }

  /**
   * Batched logging: aggregated statistics at `batched.logFrequency` and sampled episode
   * summaries at `batched.sampleFrequency` (deterministic in the update step). With a renderer
   * registered for {@link EPISODE_PICTURE}, each sampled environment is also drawn.
   */
  logBatch(batch: BatchData): void {
    const cfg = this.config.batched;
    if (!cfg.enabled) return;
    const step = batch.updateStep;
    if (step % cfg.logFrequency === 0) {
      const { metrics, arrays } = aggregateBatch(batch, cfg);
      this.log(metrics, { step, category: 'batch' });
      if (cfg.histograms) {
        for (const [k, v] of Object.entries(arrays))
          this.logHistogram(k, v, { step, category: 'batch' });
      }
    }
    if (cfg.samplingEnabled && step % cfg.sampleFrequency === 0) {
      const draw = this.#renderers.has(EPISODE_PICTURE);
      for (const ep of sampleBatch(batch, cfg, this.#seed, cfg.includeFullStates || draw)) {
        const id = String(ep['environment_id']);
        if (draw) this.picture(EPISODE_PICTURE, ep, { step, category: 'batch', name: `env_${id}` });
        if (!cfg.includeFullStates) {
          delete ep['initial_state'];
          delete ep['final_state'];
        }
        this.logEpisode(ep, { step, category: 'batch' });
      }
    }
  }

  /** Shows a notice (console view warnings, …) and passes it to every sink that takes notices. */
  notice(level: NoticeRecord['level'], msg: string, source = 'logger'): void {
    const n: NoticeRecord = { time: this.#now() / 1000, level, source, message: msg };
    this.stats.notices++;
    this.#onNotice?.(n);
    for (const r of this.#runners) r.addNotice(n);
  }

  #afterClose(what: string): boolean {
    if (this.#closed) this.#once(`closed:${what}`, 'warn', `${what}() after close() ignored`);
    return this.#closed;
  }

  #once(key: string, level: NoticeRecord['level'], msg: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.notice(level, msg);
  }

  #sinkFailed(r: SinkRunner, method: string, err: unknown): void {
    const code = (err as { code?: unknown }).code;
    const kind = typeof code === 'string' ? code : err instanceof Error ? err.name : typeof err;
    this.#once(
      `sink:${r.name}:${method}:${kind}`,
      'warn',
      `sink '${r.name}' failed in ${method}: ${message(err)} (reported once per kind of failure)`,
    );
  }

  #tick(): void {
    for (const r of this.#runners) r.tick();
  }

  /**
   * Commits the open row and hands everything buffered to every sink at once, on the caller's
   * stack, then has each local sink write its queue synchronously (`Sink.flushSync`: JSONL and
   * TensorBoard are on disk, not fsynced, when this returns). For crash and signal handlers,
   * where nothing asynchronous runs any more; afterwards the open step is committed.
   */
  flushNow(): void {
    this.#commit();
    for (const r of this.#runners) r.deliverNow();
  }

  /**
   * Delivers committed data to every sink and waits until each has made it durable. With
   * `durable: true` (call it before a checkpoint of step S commits) the open row is committed
   * first and each local sink resolves only once everything logged so far is written and fsynced
   * (JSONL, TensorBoard, the W&B spool). Returns the names of sinks that could not promise that
   * (disabled or failing; each failure was already reported as a notice).
   *
   * @example
   * await logger.flush({ durable: true });
   * await checkpoints.save(step, components);
   */
  async flush(options: FlushOptions = {}): Promise<string[]> {
    if (options.durable === true && !this.#closed) this.#commit();
    const ok = await Promise.all(this.#runners.map((r) => r.flush(options)));
    return this.#runners.filter((_, i) => ok[i] !== true).map((r) => r.name);
  }

  /**
   * Rewinds every sink to `step` for a resumed run: whatever was logged for later steps (by an
   * interrupted process, after its last checkpoint) is dropped from JSONL (all rotated parts),
   * TensorBoard event files and the W&B spool, and the logger accepts steps above `step` only.
   * `step` is the step of the checkpoint actually restored; `-1` starts the logs afresh (a run
   * resumed without any checkpoint). Call it after restoring and before logging.
   */
  async rewind(step: number): Promise<void> {
    if (!Number.isSafeInteger(step) || step < -1) {
      throw new XError('INVALID_INPUT', `rewind(): step must be an integer >= -1, got ${step}`);
    }
    this.#pending = undefined;
    this.#lastCommitted = undefined;
    this.#floor = step + 1;
    for (const r of this.#runners) await r.rewind(step);
  }

  /**
   * Commits the open row, flushes and closes every sink within `logging.closeTimeoutSeconds`.
   * Later calls are no-ops.
   */
  async close(info: CloseInfo = { exitCode: 0, preempting: false }): Promise<void> {
    if (this.#closed) return;
    for (const fn of this.#onClose.splice(0)) fn();
    this.#commit();
    if (this.stats.lowerStepCount > 0) {
      this.notice(
        'warn',
        `${this.stats.lowerStepCount} log() call(s) at a lower step were dropped`,
      );
    }
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const deadline = this.config.closeTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((res) => {
      timer = setTimeout(() => res('timeout'), deadline);
    });
    const result = await Promise.race([
      Promise.all(this.#runners.map((r) => r.close(info))).then(() => 'done' as const),
      timeout,
    ]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.#onNotice?.({
        time: this.#now() / 1000,
        level: 'error',
        source: 'logger',
        message: `close(): sinks did not finish within ${this.config.closeTimeoutSeconds} s`,
      });
    }
  }

  getState(): LoggerState {
    const sinks: { [name: string]: State } = {};
    for (const r of this.#runners) {
      if (r.sink.getState) sinks[r.name] = cloneState(r.sink.getState());
    }
    return { step: this.step, lowerStepCount: this.stats.lowerStepCount, sinks };
  }

  setState(state: LoggerState): void {
    const { sinks, ...top } = state;
    assertStateMatches({ step: 0, lowerStepCount: 0 }, top);
    if (!Number.isInteger(state.step) || state.step < -1) {
      throw new XError('STATE_MISMATCH', `step: expected an integer >= -1, got ${state.step}`);
    }
    if (typeof sinks !== 'object' || sinks === null || Array.isArray(sinks)) {
      throw new XError('STATE_MISMATCH', 'sinks: expected an object');
    }
    for (const r of this.#runners) {
      const s = state.sinks[r.name];
      if (s !== undefined && r.sink.setState) r.sink.setState(cloneState(s));
    }
    this.#pending = undefined;
    this.#lastCommitted = undefined;
    this.#floor = state.step + 1;
    this.stats.lowerStepCount = state.lowerStepCount;
  }
}

/**
 * The picture kind drawn for each sampled environment of {@link ExperimentLogger.logBatch} when
 * a renderer is registered for it (it receives the episode summary with `initial_state` and
 * `final_state`).
 */
export const EPISODE_PICTURE = 'batch/episode';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
