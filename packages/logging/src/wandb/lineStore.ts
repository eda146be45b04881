import {
  appendFileSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  ftruncateSync,
  fsyncSync,
  readSync,
  statSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Options of {@link LineStore}. */
export interface LineStoreOptions {
  /** Bytes of unsent lines kept in memory; the rest is read back from the file. */
  maxMemoryBytes: number;
  /** Global index of the file's first line (non-zero only after a resume without local files). */
  base?: number;
  /** Keep unsent lines in memory for a consumer (false: write-only, e.g. offline). */
  window?: boolean;
  /** Called once each time the store starts or stops serving lines from disk. */
  onSpill?: (spilling: boolean, file: string) => void;
}

const FLUSH_BYTES = 256 * 1024;

function scan(file: string, upToLines: number): { lines: number; bytes: number; size: number } {
  if (!existsSync(file)) return { lines: 0, bytes: 0, size: 0 };
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    let lines = 0;
    let lastLineEnd = 0;
    while (pos < size && lines < upToLines) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) {
        if (buf[i] === 10) {
          lines++;
          lastLineEnd = pos + i + 1;
          if (lines >= upToLines) break;
        }
      }
      pos += n;
    }
    return { lines, bytes: lastLineEnd, size };
  } finally {
    closeSync(fd);
  }
}

/**
 * The number of leading lines of a history file whose `_step` is below `step` (the lines a
 * resumed run keeps; the first line at or past `step` and everything after it is regenerated).
 */
export function linesBeforeStep(file: string, step: number): number {
  if (!existsSync(file)) return 0;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry = '';
    let pos = 0;
    let count = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) return count;
      pos += n;
      const parts = (carry + buf.toString('utf8', 0, n)).split('\n');
      carry = parts.pop() ?? '';
      for (const line of parts) {
        const m = /"_step":(-?\d+)/.exec(line);
        if (m !== null && Number(m[1]) >= step) return count;
        count++;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The number of complete lines in `file` (0 when it does not exist). */
export function countLines(file: string): number {
  return scan(file, Infinity).lines;
}

/**
 * An append-only log of text lines in a file, with a bounded in-memory window of the lines not
 * yet acknowledged by the consumer. Pushing never waits on I/O; when the window is full the
 * consumer reads lines back from the file (the disk spool). Line `i` of the file has the global
 * index `base + i`, which is also its file_stream offset.
 */
export class LineStore {
  readonly file: string;
  readonly base: number;
  readonly #max: number;
  readonly #onSpill: LineStoreOptions['onSpill'];
  readonly #window: boolean;
  #diskLines = 0;
  #diskBytes = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #win: string[] = [];
  #winBytes = 0;
  #spilled = false;
  #acked: number;
  #ackedByte = 0;

  /**
   * Opens (creating if needed) the log at `file`. `keepLines` truncates it to that many lines
   * (global count); `acked` sets the first unacknowledged global index.
   */
  constructor(file: string, options: LineStoreOptions & { keepLines?: number; acked?: number }) {
    this.file = file;
    this.base = options.base ?? 0;
    this.#max = options.maxMemoryBytes;
    this.#onSpill = options.onSpill;
    this.#window = options.window ?? true;
    mkdirSync(dirname(file), { recursive: true });
    const keep =
      options.keepLines === undefined ? Infinity : Math.max(0, options.keepLines - this.base);
    const all = scan(file, keep);
    if (all.bytes !== all.size) {
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, all.bytes);
      closeSync(fd);
    }
    this.#diskLines = all.lines;
    this.#diskBytes = all.bytes;
    this.#acked = Math.max(this.base, options.acked ?? this.base);
    const before = Math.min(this.#acked, this.total) - this.base;
    this.#ackedByte = before >= all.lines ? all.bytes : scan(file, before).bytes;
    this.#spilled = this.#acked < this.total;
  }

  /** Global index after the last line pushed. */
  get total(): number {
    return this.base + this.#diskLines + this.#pending.length;
  }

  /** First global index not yet acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /** Lines pushed but not acknowledged. */
  get unsent(): number {
    return Math.max(0, this.total - this.#acked);
  }

  /** Bytes of lines held in memory (window plus not-yet-written lines). */
  get memoryBytes(): number {
    return this.#winBytes + this.#pendingBytes;
  }

  get spilling(): boolean {
    return this.#spilled;
  }

  /** Appends one line (without newline). Synchronous and cheap: no I/O unless a write is due. */
  push(line: string): void {
    const index = this.total;
    const bytes = Buffer.byteLength(line) + 1;
    this.#pending.push(line);
    this.#pendingBytes += bytes;
    if (index < this.#acked) {
      this.#ackedByte += bytes;
    } else if (!this.#window) {
      this.#spilled = true;
    } else if (!this.#spilled && this.#winBytes + bytes <= this.#max) {
      this.#win.push(line);
      this.#winBytes += bytes;
    } else if (!this.#spilled) {
      this.#spilled = true;
      this.#onSpill?.(true, this.file);
    }
    if (this.#pendingBytes >= Math.min(FLUSH_BYTES, this.#max)) this.writeOutSync();
  }

  #take(): string {
    const text = this.#pending.join('\n') + '\n';
    this.#diskLines += this.#pending.length;
    this.#diskBytes += this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    return text;
  }

  /** Writes pushed lines to the file (small appends, kept in order with every other write). */
  writeOut(): Promise<void> {
    this.writeOutSync();
    return Promise.resolve();
  }

  /** Writes pushed lines to the file synchronously (signal handlers, close, memory bound). */
  writeOutSync(): void {
    if (this.#pending.length === 0) return;
    const text = this.#take();
    appendFileSync(this.file, text);
  }

  /** Writes pushed lines and fsyncs the file (no-op when the file does not exist). */
  fsync(): void {
    this.writeOutSync();
    if (!existsSync(this.file)) return;
    const fd = openSync(this.file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Up to `maxBytes` (at least one line) of unacknowledged lines, from memory or the file. */
  async peek(maxBytes: number, maxLines = Infinity): Promise<string[]> {
    if (this.#win.length === 0 && this.#spilled) await this.#refill();
    const out: string[] = [];
    let bytes = 0;
    for (const line of this.#win) {
      const b = Buffer.byteLength(line) + 1;
      if (out.length > 0 && (bytes + b > maxBytes || out.length >= maxLines)) break;
      out.push(line);
      bytes += b;
    }
    return out;
  }

  async #refill(): Promise<void> {
    this.writeOutSync();
    const start = this.#acked;
    const startByte = this.#ackedByte;
    const available = this.base + this.#diskLines - start;
    if (available <= 0) return;
    const fh = await open(this.file, 'r');
    try {
      let size = Math.min(Math.max(Math.floor(this.#max / 2), 1024), this.#diskBytes - startByte);
      for (;;) {
        const buf = Buffer.allocUnsafe(size);
        const { bytesRead } = await fh.read(buf, 0, size, startByte);
        const text = buf.subarray(0, bytesRead).toString('utf8');
        const end = text.lastIndexOf('\n');
        if (end < 0) {
          if (bytesRead < size) return;
          size *= 2;
          continue;
        }
        if (this.#acked !== start || this.#win.length > 0) return;
        const lines = text.slice(0, end).split('\n').slice(0, available);
        this.#win = lines;
        this.#winBytes = lines.reduce((s, l) => s + Buffer.byteLength(l) + 1, 0);
        if (start + lines.length === this.total) {
          this.#spilled = false;
          this.#onSpill?.(false, this.file);
        }
        return;
      }
    } finally {
      await fh.close();
    }
  }

  /** Drops every line from global index `n` on (file and memory). */
  truncateTo(n: number): void {
    this.writeOutSync();
    const keep = Math.max(0, Math.min(n, this.total) - this.base);
    const at = scan(this.file, keep);
    const fd = openSync(this.file, 'r+');
    ftruncateSync(fd, at.bytes);
    closeSync(fd);
    this.#diskLines = at.lines;
    this.#diskBytes = at.bytes;
    this.resetAcked(Math.min(this.#acked, this.total));
  }

  /** Moves the first unacknowledged index to `n` (e.g. the server's line count on resume). */
  resetAcked(n: number): void {
    this.writeOutSync();
    this.#acked = Math.max(this.base, n);
    const before = Math.min(this.#acked, this.total) - this.base;
    this.#ackedByte = scan(this.file, before).bytes;
    this.#win = [];
    this.#winBytes = 0;
    this.#spilled = this.#acked < this.total;
  }

  /** Acknowledges the first `n` lines returned by {@link peek}. */
  ack(n: number): void {
    for (let i = 0; i < n; i++) {
      const line = this.#win.shift();
      if (line === undefined) break;
      const b = Buffer.byteLength(line) + 1;
      this.#winBytes -= b;
      this.#ackedByte += b;
      this.#acked++;
    }
  }
}
