import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseJson, stringifyJson } from '../json.js';
import type { EpisodeRecord, MetricRow, RunInfo, Sink } from '../types.js';

/** Options of {@link jsonlSink}. */
export interface JsonlSinkOptions {
  /** Rotate a file past this many bytes (default 256 MiB). */
  maxBytes?: number;
}

class JsonlFile {
  #fd: number | undefined;
  #size = 0;
  constructor(
    readonly dir: string,
    readonly stem: string,
    readonly maxBytes: number,
  ) {}

  get path(): string {
    return join(this.dir, `${this.stem}.jsonl`);
  }

  open(): void {
    mkdirSync(this.dir, { recursive: true });
    this.#fd = openSync(this.path, 'a');
    this.#size = statSync(this.path).size;
  }

  append(text: string): void {
    if (this.#fd === undefined) this.open();
    if (this.#size > 0 && this.#size + Buffer.byteLength(text) > this.maxBytes) this.#rotate();
    this.#size += writeSync(this.#fd as number, text);
  }

  #rotate(): void {
    this.close();
    let k = 1;
    while (existsSync(join(this.dir, `${this.stem}.${k}.jsonl`))) k++;
    renameSync(this.path, join(this.dir, `${this.stem}.${k}.jsonl`));
    this.open();
  }

  sync(): void {
    if (this.#fd !== undefined) fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd === undefined) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
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

function dropAfter(path: string, step: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8').split('\n');
  const keep = lines.filter((l) => {
    if (l.trim() === '') return false;
    try {
      return ((parseJson(l) as { step?: number }).step ?? 0) <= step;
    } catch {
      return false;
    }
  });
  if (keep.length !== lines.filter((l) => l.trim() !== '').length) {
    writeFileSync(path, keep.map((l) => `${l}\n`).join(''));
  }
}

/**
 * Writes `logs/metrics.jsonl` (one object per committed step, NaN/±Infinity as bare tokens) and
 * `logs/episodes.jsonl` (`{"step", "time", "category", …data}`), rotating each file past
 * `maxBytes`. On resume, rows after the resumed step are dropped so they are not duplicated.
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
        dropAfter(metrics.path, run.startStep);
        dropAfter(episodes.path, run.startStep);
      }
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
    flush() {
      metrics?.sync();
      episodes?.sync();
      return Promise.resolve();
    },
    close() {
      metrics?.close();
      episodes?.close();
      return Promise.resolve();
    },
  };
}

/** Reads every row of a JSONL log (rotated parts first, in order), parsing NaN/±Infinity tokens. */
export function readJsonl(
  dir: string,
  stem: 'metrics' | 'episodes' = 'metrics',
): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  const parts = readdirSync(dir)
    .map((f) => new RegExp(`^${stem}\\.(\\d+)\\.jsonl$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(dir, m[0]));
  const files = [...parts, join(dir, `${stem}.jsonl`)].filter((f) => existsSync(f));
  const out: Record<string, unknown>[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line.trim() !== '') out.push(parseJson(line) as Record<string, unknown>);
    }
  }
  return out;
}
