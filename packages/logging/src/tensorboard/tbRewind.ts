import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c.js';
import { decodeEvent } from './events.js';

const EVENT_FILE = /^events\.out\.tfevents\./;

/** One framed record of an event file: its bytes and the step of its event. */
interface Framed {
  bytes: Buffer;
  step: number;
}

/**
 * Reads the framed records of an event file one by one, stopping at a torn or damaged tail
 * (the writer was killed mid-record). Memory holds one record at a time.
 */
function* framedRecords(fd: number, size: number): Generator<Framed> {
  const head = Buffer.alloc(12);
  let pos = 0;
  while (pos + 12 <= size) {
    if (readSync(fd, head, 0, 12, pos) !== 12) return;
    if (head.readUInt32LE(8) !== maskedCrc32c(head.subarray(0, 8))) return;
    const len = Number(head.readBigUInt64LE(0));
    if (pos + 16 + len > size) return;
    const rec = Buffer.alloc(16 + len);
    if (readSync(fd, rec, 0, rec.length, pos) !== rec.length) return;
    const data = rec.subarray(12, 12 + len);
    if (rec.readUInt32LE(12 + len) !== maskedCrc32c(data)) return;
    let step: number;
    try {
      step = decodeEvent(data).step;
    } catch {
      return;
    }
    yield { bytes: rec, step };
    pos += 16 + len;
  }
}

/**
 * Rewrites one event file without the events of steps after `step` and without a torn tail
 * (temporary file + fsync + rename, so a crash leaves the old or the new file). A file left with
 * no event at all is removed. Returns true when the file changed.
 */
function rewindEventFile(file: string, step: number): boolean {
  const fd = openSync(file, 'r');
  let keep: Buffer[] = [];
  let changed = false;
  try {
    const size = fstatSync(fd).size;
    let seen = 0;
    for (const r of framedRecords(fd, size)) {
      seen += r.bytes.length;
      if (r.step <= step) keep.push(r.bytes);
      else changed = true;
    }
    if (seen !== size) changed = true;
  } finally {
    closeSync(fd);
  }
  if (!changed) return false;
  if (keep.length === 0 || step < 0) {
    unlinkSync(file);
    return true;
  }
  const tmp = `${file}.rewind-${process.pid}.tmp`;
  const out = openSync(tmp, 'w');
  try {
    for (const b of keep) writeSync(out, b);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  keep = [];
  renameSync(tmp, file);
  return true;
}

/**
 * Drops the events after `step` (`-1`: every event) from the event files in `dir` other than
 * `current` (the file this process writes), so that after a resume every step appears once.
 */
export function rewindEventFiles(dir: string, current: string, step: number): void {
  let changed = false;
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (file === current) continue;
    if (/\.rewind-\d+\.tmp$/.test(name)) {
      unlinkSync(file);
      continue;
    }
    if (!EVENT_FILE.test(name)) continue;
    if (rewindEventFile(file, step)) changed = true;
  }
  if (changed) {
    try {
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {
      /* directories cannot be fsynced on every platform */
    }
  }
}
