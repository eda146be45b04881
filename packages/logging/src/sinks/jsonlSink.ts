import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson, stringifyJson } from '../json.js';
import { AppendFile } from './appendFile.js';
import { jsonlFiles, rewindJsonl } from './jsonlRewind.js';
import type { EpisodeRecord, FlushOptions, MetricRow, RunInfo, Sink } from '../types.js';

/** Options of {@link jsonlSink}. */
export interface JsonlSinkOptions {
  /** Rotate a file past this many bytes (default 256 MiB). */
  maxBytes?: number;
}

class JsonlFile {
  #file: AppendFile;
  constructor(
    readonly dir: string,
    readonly stem: string,
    readonly maxBytes: number,
  ) {
    this.#file = new AppendFile(this.path);
  }

  get path(): string {
    return join(this.dir, `${this.stem}.jsonl`);
  }

  open(): void {
    mkdirSync(this.dir, { recursive: true });
    this.#file.open();
  }

  /** Queues `text`; the write happens in the background (rotating first when it is due). */
  append(text: string): void {
    if (text === '') return;
    if (!this.#file.isOpen) this.open();
    const bytes = Buffer.from(text);
    const size = this.#file.size;
    if (size > 0 && size + bytes.length > this.maxBytes) this.#rotate();
    this.#file.append(bytes);
  }

  #rotate(): void {
    this.#file.closeSync();
    let k = 1;
    while (existsSync(join(this.dir, `${this.stem}.${k}.jsonl`))) k++;
    renameSync(this.path, join(this.dir, `${this.stem}.${k}.jsonl`));
    this.open();
  }

  writeNowSync(): void {
    this.#file.writeNowSync();
  }

  drain(): Promise<void> {
    return this.#file.drain();
  }

  sync(): Promise<void> {
    return this.#file.sync();
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

/** One metrics row as written to `metrics.jsonl`: `{"step", "time", "<category/name>": value, …}`. */
export function metricRowJson(row: MetricRow): string {
  let out = `{"step":${row.step},"time":${row.time}`;
  for (const k in row.values) {
    let key = keyCache.get(k);
    if (key === undefined) {
      key = `,${JSON.stringify(k)}:`;
      if (keyCache.size < 100_000) keyCache.set(k, key);
    }
    const v = row.values[k] as number;
    out +=
      key +
      (Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
  }
  return `${out}}`;
}

const keyCache = new Map<string, string>();

/**
 * Writes `logs/metrics.jsonl` (one object per committed step, NaN/±Infinity as bare tokens) and
 * `logs/episodes.jsonl` (`{"step", "time", "category", …data}`), rotating each file past
 * `maxBytes`. On resume (`start` of a resumed run, then `rewind` to the restored step), rows
 * after that step are dropped from every part so they are not duplicated. Rows are encoded when
 * the logger hands them over (off `log()`) and written in the background, one write per file in
 * flight; `flush` waits for the writes (and fsyncs them with `durable`).
 */
export function jsonlSink(options: JsonlSinkOptions = {}): Sink {
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  let metrics: JsonlFile | undefined;
  let episodes: JsonlFile | undefined;
  return {
    name: 'jsonl',
    start(run: RunInfo) {
      const dir = join(run.runDir, 'logs');
      metrics = new JsonlFile(dir, 'metrics', maxBytes);
      episodes = new JsonlFile(dir, 'episodes', maxBytes);
      if (run.resumed) {
        rewindJsonl(dir, 'metrics', run.startStep);
        rewindJsonl(dir, 'episodes', run.startStep);
      }
      metrics.open();
    },
    async rewind(step: number) {
      if (metrics === undefined || episodes === undefined) return;
      await Promise.all([metrics.close(), episodes.close()]);
      rewindJsonl(metrics.dir, 'metrics', step);
      rewindJsonl(episodes.dir, 'episodes', step);
      metrics.open();
    },
    writeRows(rows: readonly MetricRow[]) {
      metrics?.append(rows.map((r) => `${metricRowJson(r)}\n`).join(''));
    },
    writeEpisodes(eps: readonly EpisodeRecord[]) {
      const text = eps
        .map(
          (e) =>
            `${stringifyJson({ step: e.step, time: e.time, category: e.category, ...e.data })}\n`,
        )
        .join('');
      episodes?.append(text);
    },
    async flush(options?: FlushOptions) {
      if (options?.durable === true) await Promise.all([metrics?.sync(), episodes?.sync()]);
      else await Promise.all([metrics?.drain(), episodes?.drain()]);
    },
    flushSync() {
      metrics?.writeNowSync();
      episodes?.writeNowSync();
    },
    async close() {
      await Promise.all([metrics?.close(), episodes?.close()]);
    },
  };
}

/** Reads every row of a JSONL log (rotated parts first, in order), parsing NaN/±Infinity tokens. */
export function readJsonl(
  dir: string,
  stem: 'metrics' | 'episodes' = 'metrics',
): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  const files = jsonlFiles(dir, stem);
  const out: Record<string, unknown>[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line.trim() !== '') out.push(parseJson(line) as Record<string, unknown>);
    }
  }
  return out;
}
