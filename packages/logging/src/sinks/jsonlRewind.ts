import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  readdirSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseJson } from '../json.js';

/** The files of one JSONL log, oldest first: rotated parts `<stem>.<k>.jsonl`, then `<stem>.jsonl`. */
export function jsonlFiles(dir: string, stem: string): string[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${stem}\\.(\\d+)\\.jsonl$`);
  const parts = readdirSync(dir)
    .map((f) => re.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(dir, m[0]));
  return [...parts, join(dir, `${stem}.jsonl`)].filter((f) => existsSync(f));
}

function lineStep(line: string): number | undefined {
  const m = /^\{"step":(-?\d+)[,}]/.exec(line);
  if (m !== null) return Number(m[1]);
  try {
    const step = (parseJson(line) as { step?: unknown }).step;
    return typeof step === 'number' ? step : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Byte offset in `file` of the first line to drop: a line for a step after `step`, or a torn
 * last line (no newline: the writer was killed mid-write). `undefined` when every line stays.
 */
function cutOffset(file: string, step: number): number | undefined {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    let pos = 0;
    let lineStart = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) return carry.length > 0 ? lineStart : undefined;
      pos += n;
      let chunk = Buffer.concat([carry, buf.subarray(0, n)]);
      let nl: number;
      while ((nl = chunk.indexOf(10)) >= 0) {
        const line = chunk.toString('utf8', 0, nl);
        const s = line.trim() === '' ? undefined : lineStep(line);
        if (s !== undefined && s > step) return lineStart;
        lineStart += nl + 1;
        chunk = chunk.subarray(nl + 1);
      }
      carry = Buffer.from(chunk);
    }
  } finally {
    closeSync(fd);
  }
}

function truncateFile(file: string, size: number): void {
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, size);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* directories cannot be fsynced on every platform */
  }
}

/**
 * Drops every row after `step` (`-1`: every row) from a JSONL log across its rotated parts, and
 * a torn last line. Rows are in step order, so the log is cut at its first row past `step`:
 * later parts are removed (newest first, so a crash leaves a prefix of the parts) and the part
 * holding the cut is truncated. Idempotent: a crash midway is finished by the next call.
 */
export function rewindJsonl(dir: string, stem: string, step: number): void {
  const files = jsonlFiles(dir, stem);
  let cutFile = -1;
  let cutAt = 0;
  for (let i = 0; i < files.length; i++) {
    const at = cutOffset(files[i] as string, step);
    if (at !== undefined) {
      cutFile = i;
      cutAt = at;
      break;
    }
  }
  if (cutFile < 0) return;
  const current = join(dir, `${stem}.jsonl`);
  for (let i = files.length - 1; i > cutFile; i--) {
    const f = files[i] as string;
    if (f === current) truncateFile(f, 0);
    else unlinkSync(f);
  }
  truncateFile(files[cutFile] as string, cutAt);
  syncDir(dir);
}
