import { hostname } from 'node:os';
import { join } from 'node:path';
import { Rng, XError } from '@x/core';
import { upsertRun } from './api.js';
import { type ArtifactTarget, runResumeStatus } from './artifactApi.js';
import { ArtifactQueue } from './artifacts.js';
import { LineStore, countLines, linesBeforeStep } from './lineStore.js';
import {
  EMPTY_PROGRESS,
  FILES,
  type Progress,
  type RunRecord,
  readJson,
  writeJsonSync,
  writeTextAtomic,
  writeTextSync,
} from './runFiles.js';
import type { WandbSettings } from './settings.js';
import { Summary } from './summary.js';
import { Ticker } from './ticker.js';
import { onProcessExit } from './exitHook.js';
import { WandbRequestError, WandbTransport, type TransportOptions } from './transport.js';
import { type FinalFlags, Uploader } from './uploader.js';

/** Options of {@link Session}. */
export interface SessionOptions {
  /** The W&B directory (`<run-dir>/wandb`). */
  dir: string;
  settings: WandbSettings;
  record: RunRecord;
  online: boolean;
  /** Continue at the server's `historyLineCount` (resumed runs and `sync`). */
  serverResume: boolean;
  /** A resumed run's checkpointed history line count (used only when the local file is gone). */
  keepHistoryLines?: number;
  /** Drop local history lines at or past the first step logged after a resume. */
  alignOnFirstStep?: boolean;
  /** Seed of the backoff jitter stream. */
  seed: string;
  notify: (level: 'info' | 'warn' | 'error', message: string) => void;
  sleep?: TransportOptions['sleep'];
  /** Command that finishes the upload later (for messages). */
  syncHint: string;
  /** False when the run id was made up for this run (`WANDB_RESUME=must` then has nothing to resume). */
  runIdGiven?: boolean;
}

/**
 * One W&B run on disk (`run.json`, `history.jsonl`, `output.log`, `files.jsonl`,
 * `summary.json`, `progress.json`) and, online, its upload: a background loop that sends what
 * the stores hold, and a bounded final drain.
 */
export class Session {
  readonly dir: string;
  readonly record: RunRecord;
  history: LineStore;
  readonly output: LineStore;
  readonly files: LineStore;
  /** System-metrics rows (`wandb-events.jsonl`). */
  events: LineStore;
  readonly summary = new Summary();
  readonly progress: Progress;
  /** Checkpoints logged as versions of the run's model artifact. */
  readonly artifacts: ArtifactQueue;
  readonly #o: SessionOptions;
  readonly #ticker = new Ticker();
  #transport: WandbTransport | undefined;
  #uploader: Uploader | undefined;
  #loop: Promise<void> = Promise.resolve();
  #closing = false;
  #stalled = false;
  #preempt = false;
  #summaryOnDisk = '';
  #aligned = true;
  #diskFailing = false;
  #spillNoticed = new Set<string>();
  #target: ArtifactTarget | undefined;
  #serverResume: boolean;
  #resumeCheck: Promise<void> | undefined;
  #artifactWork: Promise<void> | undefined;

  constructor(o: SessionOptions) {
    this.#o = o;
    this.#serverResume = o.serverResume;
    this.dir = o.dir;
    this.record = o.record;
    this.progress = { ...EMPTY_PROGRESS, ...readJson<Progress>(o.dir, FILES.progress) };
    const historyFile = join(o.dir, FILES.history);
    const fallback = o.keepHistoryLines;
    if (
      fallback !== undefined &&
      fallback > 0 &&
      this.record.historyBase + countLines(historyFile) === 0
    ) {
      o.notify(
        'warn',
        `wandb: ${historyFile} is missing; the checkpoint counted ${fallback} history lines, continuing at line ${fallback}`,
      );
      this.record.historyBase = fallback;
    }
    this.#aligned = !o.alignOnFirstStep;
    writeJsonSync(o.dir, FILES.run, this.record);
    const onSpill = (on: boolean, file: string): void => this.#onSpill(on, file);
    const mem = o.settings.maxMemoryBytes;
    this.history = this.#historyStore(this.record.historyBase, this.progress.historyAcked);
    this.output = new LineStore(join(o.dir, FILES.output), {
      maxMemoryBytes: Math.floor(mem * 0.2),
      base: this.record.outputBase,
      acked: this.progress.outputAcked,
      window: o.online,
      onSpill,
    });
    this.files = new LineStore(join(o.dir, FILES.files), {
      maxMemoryBytes: Math.max(1024, Math.floor(mem * 0.05)),
      acked: this.progress.filesAcked,
      window: o.online,
    });
    this.events = this.#eventsStore(this.record.eventsBase ?? 0, this.progress.eventsAcked);
    this.artifacts = new ArtifactQueue({
      dir: o.dir,
      runId: this.record.runId,
      mode: o.settings.logCheckpoints,
      notify: o.notify,
    });
  }

  #historyStore(base: number, acked: number): LineStore {
    return new LineStore(join(this.dir, FILES.history), {
      maxMemoryBytes: Math.floor(this.#o.settings.maxMemoryBytes * 0.75),
      base,
      acked,
      window: this.#o.online,
      onSpill: (on, file) => this.#onSpill(on, file),
    });
  }

  #eventsStore(base: number, acked: number): LineStore {
    return new LineStore(join(this.dir, FILES.events), {
      maxMemoryBytes: Math.max(1024, Math.floor(this.#o.settings.maxMemoryBytes * 0.05)),
      base,
      acked,
      window: this.#o.online,
    });
  }

  #onSpill(on: boolean, file: string): void {
    if (on) {
      if (this.#spillNoticed.has(file)) return;
      this.#spillNoticed.add(file);
      const mib = (this.#o.settings.maxMemoryBytes / 1048576).toFixed(1);
      this.#o.notify(
        'warn',
        `wandb: upload is behind; lines past the ${mib} MiB memory bound are spooled to ${file} and sent from there`,
      );
    }
  }

  get connected(): boolean {
    return this.#uploader !== undefined;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  get requests(): number {
    return this.#uploader?.requests ?? 0;
  }

  get memoryBytes(): number {
    return (
      this.history.memoryBytes +
      this.output.memoryBytes +
      this.files.memoryBytes +
      this.events.memoryBytes
    );
  }

  /**
   * On resume: keeps the local history lines before `firstStep` (the first step logged after
   * the resume) and drops the rest, which the resumed run regenerates. Uploading waits for this.
   */
  alignHistory(firstStep: number): void {
    if (this.#aligned) return;
    this.#aligned = true;
    const keep = this.history.base + linesBeforeStep(this.history.file, firstStep);
    if (keep < this.history.total) this.history.truncateTo(keep);
    this.progress.historyAcked = Math.min(this.progress.historyAcked, this.history.total);
  }

  /**
   * Drops the history lines of steps after `step` (`-1`: all of this run's local lines) for a
   * run resumed from the checkpoint of `step`; uploading resumes after it.
   */
  rewindHistory(step: number): void {
    this.#aligned = true;
    const keep = this.history.base + linesBeforeStep(this.history.file, step + 1);
    if (keep < this.history.total) this.history.truncateTo(keep);
    this.progress.historyAcked = Math.min(this.progress.historyAcked, this.history.total);
    this.history.fsync();
  }

  /** Writes queued lines to disk and fsyncs the spool files (before a checkpoint commits). */
  async toDiskDurable(): Promise<void> {
    await this.toDisk();
    this.history.fsync();
    this.output.fsync();
    this.files.fsync();
    this.events.fsync();
  }

  /** Starts the background loop (writes to disk; online, uploads). */
  start(): void {
    onProcessExit.add(this);
    this.#loop = this.#run();
  }

  /** Wakes the loop now instead of at the next interval. */
  wake(): void {
    this.#ticker.wake();
  }

  /** The next request carries `preempting: true`. */
  preempt(): void {
    this.#preempt = true;
    this.#ticker.wake();
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      await this.#ticker.wait(this.#o.settings.flushIntervalMs);
      if (this.#closing) break;
      await this.#tick();
    }
  }

  /** Writes queued lines and the summary to disk. */
  async toDisk(): Promise<void> {
    await Promise.all([
      this.history.writeOut(),
      this.output.writeOut(),
      this.files.writeOut(),
      this.events.writeOut(),
    ]);
    const s = this.summary.line();
    if (s !== this.#summaryOnDisk) {
      this.#summaryOnDisk = s;
      await writeTextAtomic(this.dir, FILES.summary, `${s}\n`);
    }
  }

  /** Writes queued lines, summary and progress to disk synchronously. */
  toDiskSync(): void {
    this.history.writeOutSync();
    this.output.writeOutSync();
    this.files.writeOutSync();
    this.events.writeOutSync();
    writeJsonSync(this.dir, FILES.progress, this.progress);
    const s = this.summary.line();
    if (s !== this.#summaryOnDisk) {
      this.#summaryOnDisk = s;
      writeTextSync(this.dir, FILES.summary, `${s}\n`);
    }
  }

  async #tick(): Promise<void> {
    try {
      await this.toDisk();
      this.#diskFailing = false;
    } catch (err) {
      if (!this.#diskFailing) {
        this.#o.notify('error', `wandb: cannot write ${this.dir}: ${(err as Error).message}`);
      }
      this.#diskFailing = true;
    }
    if (!this.#o.online || this.#stalled || this.#closing || !this.#aligned) return;
    try {
      if (this.#uploader === undefined && !(await this.connect())) return;
      const up = this.#uploader as Uploader;
      for (let i = 0; i < 64 && !this.#closing; i++) {
        const preempt = this.#preempt;
        const heartbeat = preempt || up.idleMs >= this.#o.settings.heartbeatMs;
        const r = await up.step(undefined, heartbeat, preempt);
        if (preempt) this.#preempt = false;
        if (r === 'idle') break;
      }
      if (this.#artifactWork === undefined && this.artifacts.pending > 0 && !this.#closing) {
        this.#artifactWork = this.#uploadArtifacts().finally(() => {
          this.#artifactWork = undefined;
        });
      }
      if (this.#spillNoticed.size > 0 && up.drained) {
        this.#spillNoticed.clear();
        this.#o.notify('info', 'wandb: upload caught up; the spool is fully sent');
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Uploads queued checkpoint versions beside the file_stream loop (never blocking it). */
  async #uploadArtifacts(): Promise<void> {
    const t = this.#transport;
    const target = this.#target;
    if (t === undefined || target === undefined) return;
    try {
      while (!this.#closing && (await this.artifacts.step(t, target, false)));
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Uploads every queued checkpoint version (end of run, sync). */
  async #drainArtifacts(): Promise<void> {
    await this.#artifactWork;
    if (this.#transport === undefined || this.#target === undefined) return;
    if (!(await this.artifacts.drain(this.#transport, this.#target))) {
      this.#o.notify(
        'warn',
        `wandb: some checkpoints were not uploaded as ${this.artifacts.name}; their files stay in ${this.dir}; retry with: ${this.#o.syncHint}`,
      );
    }
  }

  /** Called when the process exits without `finish()` (e.g. to commit a row being assembled). */
  onExit: (() => void) | undefined;

  /** The server's `historyLineCount` when the run was created or resumed. */
  serverHistoryLines = 0;

  /** Why uploading stopped, if it did. */
  lastError: Error | undefined;

  /** History lines neither the server nor the local spool holds (a gap), when found. */
  missingLines: { from: number; to: number } | undefined;

  #cancelled = false;

  /** Stops uploading at once (a request or retry wait in flight is aborted); files stay. */
  cancel(): void {
    this.#cancelled = true;
    this.#transport?.abort();
  }

  #fail(err: unknown): void {
    this.lastError = err as Error;
    if (err instanceof WandbRequestError && this.#transport?.aborted === true) return;
    if (err instanceof WandbRequestError && err.retryable && !this.#closing) {
      this.#o.notify(
        'warn',
        `wandb: ${err.message}; everything is kept in ${this.dir}; trying again`,
      );
      return;
    }
    this.#stalled = true;
    this.#o.notify(
      'error',
      `wandb: uploading stopped (${(err as Error).message}). Everything is kept in ${this.dir}; upload it later with: ${this.#o.syncHint}`,
    );
  }

  #ensureTransport(): WandbTransport {
    const s = this.#o.settings;
    this.#transport ??= new WandbTransport({
      baseUrl: s.baseUrl,
      apiKey: s.apiKey,
      retry: s.retry,
      requestTimeoutMs: s.requestTimeoutMs,
      graphqlTimeoutMs: s.graphqlTimeoutMs,
      rng: Rng.fromSeed(this.#o.seed).stream('wandb-backoff'),
      notify: (n) => this.#o.notify(n.level, n.message),
      sleep: this.#o.sleep,
    });
    if (this.#cancelled) this.#transport.abort();
    return this.#transport;
  }

  /**
   * Applies W&B's `resume` rule (`WANDB_RESUME`) once, online, before the run is created: asks
   * the server whether the run exists (`RunResumeStatus`, as the SDK does); `must` and the run
   * does not exist, or `never` and it does, is an error; otherwise an existing run is continued
   * at its line counts. Without a mode (or offline) nothing is asked.
   */
  checkResume(): Promise<void> {
    this.#resumeCheck ??= this.#checkResume();
    return this.#resumeCheck;
  }

  async #checkResume(): Promise<void> {
    const mode = this.#o.settings.resume;
    if (mode === undefined || !this.#o.online) return;
    const r = this.record;
    const where = `${r.entity ?? '<default entity>'}/${r.project}/${r.runId}`;
    if (mode === 'must' && this.#o.runIdGiven === false) {
      throw new XError(
        'INVALID_CONFIG',
        `WANDB_RESUME=must: no run to resume: set WANDB_RUN_ID (or logging.wandb.runId) to the id of the W&B run`,
      );
    }
    const status = await runResumeStatus(this.#ensureTransport(), {
      entity: r.entity,
      project: r.project,
      runId: r.runId,
    });
    if (status === undefined && mode === 'must') {
      throw new XError(
        'NOT_FOUND',
        `WANDB_RESUME=must but run ${r.runId} doesn't exist (${where} on ${this.#o.settings.baseUrl}); check WANDB_RUN_ID, WANDB_ENTITY and WANDB_PROJECT, or use WANDB_RESUME=allow to create it`,
      );
    }
    // `never` guards other runs' ids: a run this directory already created continues (a restart,
    // a second sync).
    if (status !== undefined && mode === 'never' && this.record.onServer !== true) {
      throw new XError(
        'INVALID_INPUT',
        `WANDB_RESUME=never but run ${r.runId} exists (${where} on ${this.#o.settings.baseUrl}); choose another WANDB_RUN_ID, or use WANDB_RESUME=allow to continue it`,
      );
    }
    if (status !== undefined) {
      this.#serverResume = true;
      const n = status.eventsLineCount;
      if (n > 0 && this.events.base === 0 && this.events.acked === 0) {
        // This directory's system metrics continue after the run's earlier ones.
        this.events.writeOutSync();
        this.record.eventsBase = n;
        writeJsonSync(this.dir, FILES.run, this.record);
        this.events = this.#eventsStore(n, n);
      }
      this.#o.notify('info', `wandb: resuming run ${where} (WANDB_RESUME=${mode})`);
    }
  }

  /** Creates or resumes the run on the server; false (and stalled) when that failed for good. */
  async connect(): Promise<boolean> {
    if (this.#uploader !== undefined) return true;
    const s = this.#o.settings;
    const transport = this.#ensureTransport();
    try {
      await this.checkResume();
    } catch (err) {
      this.lastError = err as Error;
      this.#stalled = true;
      if (!(err instanceof WandbRequestError)) {
        this.#o.notify('error', `wandb: ${(err as Error).message}; nothing was uploaded`);
      } else this.#fail(err);
      return false;
    }
    try {
      const res = await upsertRun(transport, this.record, hostname());
      this.record.entity = res.entity;
      this.record.project = res.project;
      this.#target = { entity: res.entity, project: res.project, runId: this.record.runId };
      this.record.onServer = true;
      writeJsonSync(this.dir, FILES.run, this.record);
      this.serverHistoryLines = res.historyLineCount;
      if (this.#o.serverResume) {
        const h = res.historyLineCount;
        if (h < this.history.base) {
          this.missingLines = { from: h, to: this.history.base - 1 };
          this.#o.notify(
            'warn',
            `wandb: the server has ${h} history lines, the local spool starts at ${this.history.base}; lines ${h}..${this.history.base - 1} are missing`,
          );
        }
        this.history.resetAcked(Math.max(h, this.history.base));
      } else if (res.historyLineCount > 0 && this.history.base === 0 && this.history.acked === 0) {
        const h = res.historyLineCount;
        this.#o.notify(
          this.#serverResume ? 'info' : 'warn',
          `wandb: run ${this.record.runId} already has ${h} history lines on the server; this run's lines are appended after them`,
        );
        this.history.writeOutSync();
        this.record.historyBase = h;
        writeJsonSync(this.dir, FILES.run, this.record);
        this.history = this.#historyStore(h, h);
      }
      this.#uploader = new Uploader({
        transport,
        dir: this.dir,
        path: { entity: res.entity, project: res.project, runId: this.record.runId },
        history: this.history,
        output: this.output,
        files: this.files,
        events: this.events,
        summary: this.summary,
        progress: this.progress,
        notify: this.#o.notify,
        maxRequestBytes: s.maxRequestBytes,
      });
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  /**
   * Uploads everything the stores hold now (for `sync`), then the final flags if given. Throws
   * when the server cannot be reached for good; progress so far is kept.
   */
  async uploadAll(final: FinalFlags | undefined): Promise<void> {
    try {
      if (!(await this.connect())) throw this.lastError ?? new Error('upload failed');
      const up = this.#uploader as Uploader;
      while ((await up.step()) !== 'idle');
      await this.#drainArtifacts();
      if (final !== undefined) await up.drain(final);
    } finally {
      this.toDiskSync();
      await this.#transport?.close();
    }
  }

  /** Stops the loop without uploading anything more (the files stay on disk). */
  dispose(): void {
    onProcessExit.delete(this);
    this.#closing = true;
    this.#ticker.wake();
    this.#transport?.abort();
    this.toDiskSync();
  }

  /**
   * Stops the loop, writes everything to disk and, online, sends what is left with the final
   * flags within `timeoutMs`. Returns true when the server acknowledged the final request.
   */
  async finish(final: FinalFlags, timeoutMs: number): Promise<boolean> {
    this.alignHistory(Infinity);
    this.#closing = true;
    this.#ticker.wake();
    let delivered = false;
    if (this.#o.online && !this.#stalled) {
      const timer = setTimeout(() => this.#transport?.abort(), timeoutMs);
      try {
        await this.#loop;
        await this.toDisk();
        if (!this.#stalled && (await this.connect())) {
          const up = this.#uploader as Uploader;
          while ((await up.step()) !== 'idle');
          await this.#drainArtifacts();
          await up.drain(final);
          delivered = true;
        }
      } catch (err) {
        this.#fail(err);
      } finally {
        clearTimeout(timer);
      }
      if (!delivered && !this.#stalled) {
        this.#o.notify(
          'warn',
          `wandb: could not finish uploading within ${(timeoutMs / 1000).toFixed(0)} s (${this.history.unsent} history lines left); everything is kept in ${this.dir}; finish with: ${this.#o.syncHint}`,
        );
      }
    } else {
      await this.#loop;
    }
    this.toDiskSync();
    onProcessExit.delete(this);
    await this.#transport?.close();
    return delivered;
  }
}
