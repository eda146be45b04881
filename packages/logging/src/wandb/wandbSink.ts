import { existsSync, mkdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { XError, assertStateMatches } from '@x/core';
import type {
  CloseInfo,
  EpisodeRecord,
  FlushOptions,
  MetricRow,
  NoticeRecord,
  PictureRecord,
  RunInfo,
  Sink,
} from '../types.js';
import type { CheckpointRecord } from './artifacts.js';
import { parseExtendedJson, toExtendedJson } from './extJson.js';
import { htmlMedia, svgToHtml } from './media.js';
import { redact } from './redact.js';
import { FILES, makeRunRecord, writeJsonSync } from './runFiles.js';
import { RowAssembler } from './rows.js';
import { Session } from './session.js';
import { type ResolveWandbOptions, type WandbSettings, resolveWandbSettings } from './settings.js';
import { SystemMonitor, type SystemProbe, SystemSampler } from './systemMetrics.js';
import type { TransportOptions } from './transport.js';

/** W&B drops history lines longer than this (10 MiB − 100 KiB); so does the sink, with a notice. */
export const MAX_LINE_BYTES = 10 * 1024 * 1024 - 100 * 1024;

/** Options of {@link WandbSink}. */
export interface WandbSinkOptions extends ResolveWandbOptions {
  /** Receives retries, spooling and failures for the console view. */
  onNotice?: (notice: NoticeRecord) => void;
  /** Seed of the retry jitter stream (default: derived from the run id). */
  seed?: string;
  /** Command shown in messages to finish an upload later (default `runner wandb sync <dir>`). */
  syncHint?: string;
  /** Replaceable wait between retries (tests). */
  sleep?: TransportOptions['sleep'];
}

/** The sink's resume state (checkpointed with the logger). */
export interface WandbSinkState {
  [key: string]: string | number;
  /** The W&B run id (empty before the run started). */
  runId: string;
  /** History lines of the run so far, including a row still being assembled. */
  historyLines: number;
  /** The summary without `_runtime`/`_timestamp`, as extended JSON. */
  summary: string;
}

const EMPTY_STATE: WandbSinkState = { runId: '', historyLines: 0, summary: '{}' };

/**
 * The Weights & Biases sink: speaks W&B's HTTP protocol (GraphQL `upsertBucket`, `file_stream`,
 * `createRunFiles`) with undici, off the training path. Every write only appends to bounded
 * in-memory queues backed by files in `<run-dir>/wandb/`; a background loop uploads them with
 * retries. Offline, the same files are written and `syncOfflineRun` uploads them later.
 *
 * @example
 * const sink = new WandbSink({ config: { project: 'ired' } }); // WANDB_MODE, WANDB_API_KEY, …
 * sink.start(runInfo);
 * sink.writeRows([{ step: 1, time: Date.now() / 1000, values: { 'train/loss': 0.5 } }]);
 * await sink.close({ exitCode: 0, preempting: false });
 */
export class WandbSink implements Sink {
  readonly name = 'wandb';
  settings: WandbSettings;
  readonly #opts: WandbSinkOptions;
  #mode: WandbSettings['mode'];
  #session: Session | undefined;
  #state: WandbSinkState = { ...EMPTY_STATE };
  #stateSet = false;
  #run: RunInfo | undefined;
  #rows: RowAssembler | undefined;
  #writes = new Set<Promise<void>>();
  #closed = false;
  #pushedSinceStart = 0;
  #onNotice: ((n: NoticeRecord) => void) | undefined;
  #monitor: SystemMonitor | undefined;
  #probe: SystemProbe | undefined;
  #onStarted: (() => void) | undefined;
  readonly #started = new Promise<void>((resolve) => {
    this.#onStarted = resolve;
  });
  /** The latest notices (also sent to the notice handler). */
  readonly notices: NoticeRecord[] = [];

  constructor(options: WandbSinkOptions = {}) {
    this.#opts = options;
    this.settings = resolveWandbSettings(options);
    this.#mode = this.settings.mode;
    this.#onNotice = options.onNotice;
  }

  /** `online`, `offline` or `disabled` (online without an API key falls back to offline). */
  get mode(): WandbSettings['mode'] {
    return this.#mode;
  }

  /** The W&B run id once started. */
  get runId(): string | undefined {
    return this.#session?.record.runId;
  }

  /** The W&B directory once started. */
  get dir(): string | undefined {
    return this.#session?.dir;
  }

  /** Routes the sink's notices (retries, spooling, failures) to the console view. */
  setNoticeHandler(handler: ((notice: NoticeRecord) => void) | undefined): void {
    this.#onNotice = handler;
  }

  /** Counters for tests, benchmarks and status lines. */
  stats(): {
    mode: string;
    connected: boolean;
    stalled: boolean;
    historyLines: number;
    unsentLines: number;
    unsentHistoryLines: number;
    memoryBytes: number;
    spilling: boolean;
    requests: number;
    artifactsPending: number;
    artifactsCommitted: number;
  } {
    const s = this.#session;
    return {
      mode: this.#mode,
      connected: s?.connected ?? false,
      stalled: s?.stalled ?? false,
      historyLines: s?.history.total ?? 0,
      unsentLines: s === undefined ? 0 : s.history.unsent + s.output.unsent,
      unsentHistoryLines: s?.history.unsent ?? 0,
      memoryBytes: s?.memoryBytes ?? 0,
      spilling: s?.history.spilling ?? false,
      requests: s?.requests ?? 0,
      artifactsPending: s?.artifacts.pending ?? 0,
      artifactsCommitted: s?.artifacts.committed ?? 0,
    };
  }

  #notify = (level: NoticeRecord['level'], message: string): void => {
    const n: NoticeRecord = {
      time: Date.now() / 1000,
      level,
      source: 'wandb',
      message: redact(message, this.settings.apiKey),
    };
    this.notices.push(n);
    if (this.notices.length > 100) this.notices.shift();
    try {
      if (this.#onNotice !== undefined) this.#onNotice(n);
      else this.#run?.notify?.(level, n.message);
    } catch {
      /* a failing notice handler must not break logging */
    }
  };

  start(run: RunInfo): void {
    try {
      this.#start(run);
    } finally {
      this.#onStarted?.();
    }
  }

  #start(run: RunInfo): void {
    this.#run = run;
    if (this.#opts.config === undefined && run.sinkConfig !== undefined) {
      this.settings = resolveWandbSettings({ ...this.#opts, config: run.sinkConfig });
      this.#mode = this.settings.mode;
    }
    if (this.#mode === 'disabled') return;
    if (this.#mode === 'online' && this.settings.apiKey === undefined) {
      this.#mode = 'offline';
      this.#notify(
        'warn',
        `wandb: no API key (WANDB_API_KEY or ~/.netrc for ${new URL(this.settings.baseUrl).host}); logging offline to ${join(run.runDir, 'wandb')}; upload later with: runner wandb sync ${run.runDir}`,
      );
    }
    this.#open();
  }

  #open(): void {
    const run = this.#run as RunInfo;
    const s = this.settings;
    this.#monitor?.stop();
    const dir =
      s.dir === undefined
        ? resolve(run.runDir, 'wandb')
        : resolve(s.dir, 'wandb', basename(resolve(run.runDir)));
    mkdirSync(dir, { recursive: true });
    const resumed = run.resumed || this.#stateSet;
    const record = makeRunRecord({
      dir,
      run,
      settings: s,
      resumed,
      stateRunId: this.#stateSet && this.#state.runId !== '' ? this.#state.runId : undefined,
    });
    const runId = record.runId;
    const runDirArg = s.dir === undefined ? run.runDir : dir;
    const runIdGiven =
      (this.#stateSet && this.#state.runId !== '') ||
      s.runId !== undefined ||
      existsSync(join(dir, FILES.run));
    this.#session = new Session({
      dir,
      settings: s,
      record,
      online: this.#mode === 'online',
      serverResume: resumed,
      keepHistoryLines: this.#stateSet ? this.#state.historyLines : undefined,
      alignOnFirstStep: resumed,
      seed: this.#opts.seed ?? runId,
      notify: this.#notify,
      sleep: this.#opts.sleep,
      syncHint: this.#opts.syncHint ?? `runner wandb sync ${runDirArg}`,
      runIdGiven,
    });
    const session = this.#session;
    const rows = new RowAssembler({
      t0: record.startedAt,
      summary: session.summary,
      push: (line) => this.#push(line),
      notify: this.#notify,
    });
    this.#rows = rows;
    session.onExit = () => rows.commit();
    if (resumed && this.#stateSet) {
      this.#session.summary.replace(
        parseExtendedJson(this.#state.summary) as Record<string, unknown>,
      );
    }
    this.#session.start();
    const sm = s.systemMetrics;
    if (sm !== false) {
      this.#monitor = new SystemMonitor({
        everySeconds: sm.everySeconds,
        sampler: new SystemSampler(sm.diskPaths, () => this.#probe),
        push: (values, time) => {
          const row: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(values)) row[`system.${k}`] = v;
          row['_wandb'] = true;
          row['_timestamp'] = time;
          row['_runtime'] = time - record.startedAt;
          session.events.push(toExtendedJson(row));
        },
      });
    }
  }

  /**
   * Adds metrics to every system sample (e.g. the runner's GPU memory as
   * `gpu.0.memoryAllocatedBytes`), so that @x/logging needs no backend of its own.
   */
  setSystemProbe(probe: SystemProbe | undefined): void {
    this.#probe = probe;
  }

  /**
   * With `WANDB_RESUME` (or `logging.wandb.resume`) set and online, asks the server whether the
   * run exists and applies W&B's rule before anything is uploaded. Throws `NOT_FOUND` for `must`
   * when it does not exist, `INVALID_INPUT` for `never` when it does (`INVALID_CONFIG` for
   * `must` without a run id). Offline it does nothing: `runner wandb sync` checks.
   */
  async verifyResume(): Promise<void> {
    if (this.#session === undefined && this.#mode !== 'disabled') {
      // The logger may start its sinks asynchronously: wait (boundedly) for this one.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#started,
        new Promise<void>((r) => {
          timer = setTimeout(r, 10_000);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    await this.#session?.checkResume();
  }

  #push(line: string): void {
    const s = this.#session as Session;
    const bytes = line.length <= MAX_LINE_BYTES / 3 ? line.length : Buffer.byteLength(line);
    if (bytes > MAX_LINE_BYTES) {
      this.#notify(
        'warn',
        `wandb: a history row of ${bytes} bytes exceeds W&B's line limit; not sent`,
      );
      return;
    }
    s.history.push(line);
    this.#pushedSinceStart++;
  }

  #active(): boolean {
    return this.#session !== undefined && !this.#closed;
  }

  writeRows(rows: readonly MetricRow[]): void {
    if (!this.#active()) return;
    for (const r of rows) this.#add(r.step, r.time, r.values);
  }

  #add(step: number, time: number, values: Record<string, unknown>): void {
    (this.#session as Session).alignHistory(step);
    (this.#rows as RowAssembler).add(step, time, values);
  }

  writePicture(picture: PictureRecord): void {
    if (!this.#active() || !this.settings.pictures) return;
    const s = this.#session as Session;
    const media = htmlMedia(
      picture.name,
      picture.step,
      svgToHtml(picture.svg, `${picture.name} @ step ${picture.step}`),
    );
    const file = join(s.dir, 'files', media.name);
    const w = (async () => {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, media.bytes);
      s.files.push(JSON.stringify({ name: media.name }));
    })()
      .catch((err: unknown) =>
        this.#notify('error', `wandb: cannot write ${file}: ${(err as Error).message}`),
      )
      .finally(() => this.#writes.delete(w));
    this.#writes.add(w);
    this.#add(picture.step, picture.time, { [picture.name]: media.value });
  }

  writeEpisodes(episodes: readonly EpisodeRecord[]): void {
    if (!this.#active()) return;
    for (const e of episodes)
      this.#line(`episode ${e.category} step ${e.step}: ${toExtendedJson(e.data)}`, e.time, false);
  }

  writeNotice(notice: NoticeRecord): void {
    if (!this.#active() || notice.source === 'wandb') return;
    this.#line(
      `[${notice.level}] ${notice.source}: ${notice.message}`,
      notice.time,
      notice.level === 'error',
    );
  }

  #line(text: string, time: number, stderr: boolean): void {
    const ts = new Date(time * 1000).toISOString().replace('Z', '000');
    const safe = redact(text, this.settings.apiKey);
    for (const l of safe.split(/\r?\n/))
      (this.#session as Session).output.push(`${stderr ? 'ERROR ' : ''}${ts} ${l}`);
  }

  /**
   * Makes everything logged so far durable in `<run-dir>/wandb/` and wakes the uploader. With
   * `durable`, the row being assembled is emitted first and the spool files are fsynced, so
   * every row handed to the sink is in `history.jsonl` when this resolves.
   */
  async flush(options?: FlushOptions): Promise<void> {
    const s = this.#session;
    if (s === undefined) return;
    await Promise.all([...this.#writes]);
    if (options?.durable === true && !this.#closed) {
      this.#rows?.commit();
      await s.toDiskDurable();
    } else await s.toDisk();
    s.wake();
  }

  /**
   * Logs a committed checkpoint as a version of the run's `model-<runId>` artifact, per
   * `logging.wandb.logCheckpoints` (a no-op with `none`): aliases `latest` and, when it is the
   * best by `best.metric`, `best`. Returns once its files are staged (hard links) and recorded in
   * `artifacts.json`; the upload runs in the background, resumes after a crash and is finished
   * by `runner wandb sync`.
   */
  logCheckpoint(checkpoint: CheckpointRecord): void {
    const s = this.#session;
    if (s === undefined || this.#closed) return;
    s.artifacts.add(checkpoint);
    s.wake();
  }

  /** Drops the spooled history rows of steps after `step` (`-1`: all) for a resumed run. */
  rewind(step: number): void {
    const s = this.#session;
    if (s === undefined || this.#closed) return;
    const pending = this.#rows?.pending;
    if (pending !== undefined && pending.step > step) {
      throw new XError(
        'INVALID_INPUT',
        `wandb: rewind to step ${step} after logging step ${pending.step}`,
      );
    }
    s.rewindHistory(step);
  }

  /**
   * Tells W&B the process is being preempted (SIGTERM): the next request carries
   * `preempting: true`. Call `close({ preempting: true, … })` after it.
   */
  preempt(): void {
    this.#session?.preempt();
  }

  async close(info: CloseInfo): Promise<void> {
    const s = this.#session;
    if (s === undefined || this.#closed) return;
    this.#rows?.commit();
    this.#closed = true;
    this.#monitor?.stop();
    await Promise.all([...this.#writes]);
    writeJsonSync(s.dir, FILES.exit, {
      exitCode: info.exitCode,
      preempting: info.preempting,
      time: Date.now() / 1000,
    });
    const final = info.preempting
      ? { preempting: true }
      : { complete: true, exitcode: info.exitCode };
    await s.finish(final, this.settings.closeTimeoutMs);
  }

  getState(): WandbSinkState {
    const s = this.#session;
    if (s === undefined) return { ...this.#state };
    const { _runtime: _r, _timestamp: _t, ...summary } = s.summary.values;
    const pending = this.#rows?.pending;
    if (pending !== undefined) Object.assign(summary, pending.values, { _step: pending.step });
    return {
      runId: s.record.runId,
      historyLines: s.history.total + (pending === undefined ? 0 : 1),
      summary: toExtendedJson(summary),
    };
  }

  setState(state: WandbSinkState): void {
    assertStateMatches(EMPTY_STATE, state);
    if (!Number.isSafeInteger(state.historyLines) || state.historyLines < 0) {
      throw new XError(
        'STATE_MISMATCH',
        `historyLines: expected a non-negative integer, got ${state.historyLines}`,
      );
    }
    try {
      parseExtendedJson(state.summary);
    } catch {
      throw new XError('STATE_MISMATCH', 'summary: not valid JSON');
    }
    if (this.#session !== undefined && this.#pushedSinceStart > 0) {
      throw new XError(
        'STATE_MISMATCH',
        'runId: the W&B sink already logged rows; restore its state before logging',
      );
    }
    this.#state = { runId: state.runId, historyLines: state.historyLines, summary: state.summary };
    this.#stateSet = true;
    if (this.#session !== undefined) {
      this.#session.dispose();
      this.#open();
    }
  }
}

/**
 * The W&B sink when the environment or config turns it on (`WANDB_MODE=online|offline` or
 * `logging.wandb.enabled: true`), else `undefined` (`WANDB_MODE=disabled` or not configured).
 */
export function createWandbSink(options: WandbSinkOptions = {}): WandbSink | undefined {
  const sink = new WandbSink(options);
  return sink.mode === 'disabled' ? undefined : sink;
}
