import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRunFiles } from './api.js';
import type { LineStore } from './lineStore.js';
import { FILES, type Progress, writeTextAtomic } from './runFiles.js';
import type { WandbTransport } from './transport.js';

/** Final flags of the last file_stream request. */
export interface FinalFlags {
  complete?: boolean;
  exitcode?: number;
  preempting?: boolean;
}

/** The latest summary, sent whenever it changed. */
export interface SummarySource {
  /** The summary line and its version, when it changed since the last `sent`. */
  take(): { line: string; version: number } | undefined;
  sent(version: number): void;
}

/** Options of {@link Uploader}. */
export interface UploaderOptions {
  transport: WandbTransport;
  /** The W&B directory (media files live under it). */
  dir: string;
  path: { entity: string; project: string; runId: string };
  history: LineStore;
  output: LineStore;
  files: LineStore;
  /** System-metrics rows (`wandb-events.jsonl`). */
  events: LineStore;
  summary: SummarySource;
  progress: Progress;
  notify: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Upper bound of one request's line content (default 8 MiB; W&B's limit is ~10 MiB). */
  maxRequestBytes?: number;
}

/**
 * Moves lines from the stores to W&B's file_stream: one request at a time, each at the offsets
 * of the first unacknowledged lines, acknowledging them only once the server answered. A
 * request retried after an ambiguous failure carries the same offsets, so the server writes the
 * same lines again instead of appending duplicates.
 */
export class Uploader {
  readonly #o: UploaderOptions;
  readonly #max: number;
  #lastSentAt = Date.now();
  #stoppedNoticed = false;
  requests = 0;

  constructor(options: UploaderOptions) {
    this.#o = options;
    this.#max = options.maxRequestBytes ?? 8 * 1024 * 1024;
  }

  /** Milliseconds since the last successful request. */
  get idleMs(): number {
    return Date.now() - this.#lastSentAt;
  }

  /** True when every store is acknowledged up to its end. */
  get drained(): boolean {
    const o = this.#o;
    return (
      o.history.unsent === 0 &&
      o.output.unsent === 0 &&
      o.files.unsent === 0 &&
      o.events.unsent === 0
    );
  }

  async #uploadFiles(): Promise<{ taken: number; uploaded: string[] }> {
    const o = this.#o;
    const lines = await o.files.peek(64 * 1024, 20);
    if (lines.length === 0) return { taken: 0, uploaded: [] };
    const names = lines.map((l) => (JSON.parse(l) as { name: string }).name);
    const uploaded: string[] = [];
    try {
      const { uploadHeaders, urls } = await createRunFiles(o.transport, o.path, names);
      for (const name of names) {
        const url = urls.get(name);
        if (url === undefined) {
          o.notify('warn', `wandb: the server gave no upload URL for ${name}; skipped`);
          continue;
        }
        const body = await readFile(join(o.dir, 'files', name));
        await o.transport.upload(url, uploadHeaders, body, name);
        uploaded.push(name);
      }
    } catch (err) {
      if (o.transport.aborted) throw err;
      o.notify(
        'warn',
        `wandb: ${names.length - uploaded.length} picture file(s) not uploaded (${(err as Error).message}); metrics go on`,
      );
    }
    return { taken: names.length, uploaded };
  }

  /**
   * Sends one request with whatever is queued (and `final` flags once nothing else is left).
   * Returns `idle` when there was nothing to send, `sent`, or `final` when the flags went out.
   */
  async step(
    final?: FinalFlags,
    heartbeat = false,
    preempting = false,
  ): Promise<'idle' | 'sent' | 'final'> {
    const o = this.#o;
    const { taken, uploaded } = await this.#uploadFiles();
    const history = await o.history.peek(this.#max / 2);
    const output = await o.output.peek(this.#max / 4);
    const events = await o.events.peek(this.#max / 8);
    const summary = o.summary.take();
    const files: Record<string, { offset: number; content: string[] }> = {};
    if (history.length > 0)
      files['wandb-history.jsonl'] = { offset: o.history.acked, content: history };
    if (summary !== undefined) files['wandb-summary.json'] = { offset: 0, content: [summary.line] };
    if (output.length > 0) files['output.log'] = { offset: o.output.acked, content: output };
    if (events.length > 0)
      files['wandb-events.jsonl'] = { offset: o.events.acked, content: events };
    const body: Record<string, unknown> = {};
    if (Object.keys(files).length > 0) body['files'] = files;
    if (uploaded.length > 0) body['uploaded'] = uploaded;
    const last =
      final !== undefined &&
      history.length === o.history.unsent &&
      output.length === o.output.unsent &&
      events.length === o.events.unsent &&
      taken === o.files.unsent;
    if (preempting) body['preempting'] = true;
    if (last) Object.assign(body, final);
    if (Object.keys(body).length === 0 && !heartbeat && taken === 0) return 'idle';
    const res = await o.transport.fileStream(o.path, JSON.stringify(body));
    this.requests++;
    this.#lastSentAt = Date.now();
    o.history.ack(history.length);
    o.output.ack(output.length);
    o.events.ack(events.length);
    o.files.ack(taken);
    if (summary !== undefined) o.summary.sent(summary.version);
    o.progress.historyAcked = o.history.acked;
    o.progress.outputAcked = o.output.acked;
    o.progress.filesAcked = o.files.acked;
    o.progress.eventsAcked = o.events.acked;
    if (last && final.complete === true) o.progress.completeSent = true;
    await writeTextAtomic(o.dir, FILES.progress, `${JSON.stringify(o.progress)}\n`);
    if (res['stopped'] === true && !this.#stoppedNoticed) {
      this.#stoppedNoticed = true;
      o.notify('warn', 'wandb: the run was stopped from the W&B UI; logging continues locally');
    }
    return last ? 'final' : 'sent';
  }

  /** Sends until everything is acknowledged, then the final flags. */
  async drain(final: FinalFlags): Promise<void> {
    for (;;) {
      if ((await this.step(final)) === 'final') return;
    }
  }
}
