import {
  close,
  closeSync,
  constants,
  fstatSync,
  fsync,
  fsyncSync,
  openSync,
  write,
  writeSync,
} from 'node:fs';

/** Queued bytes past which `append` writes synchronously (back-pressure; bounds memory). */
export const MAX_QUEUED_BYTES = 8 << 20;

interface Chunk {
  fd: number;
  pos: number;
  bytes: Uint8Array;
  /** Bytes appended (ever, across rotations) up to the end of this chunk. */
  end: number;
}

interface Waiter {
  /** Resolve once this many bytes appended (ever) are written. */
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A file that grows at its end without making the caller wait: appended bytes are queued and
 * written by one positional write in flight at a time (libuv's thread pool), which takes
 * everything queued meanwhile in one go. Every write carries its offset, so {@link writeNowSync}
 * (crash handlers, back-pressure) can put everything still queued, and the chunk in flight once
 * more (the same bytes at the same offset), on disk in order while an async write is pending.
 * A failed write is kept and thrown once by the next `append`, `drain`, `sync` or `close`.
 */
export class AppendFile {
  readonly path: string;
  #fd: number | undefined;
  /** Offset of the first queued byte (the end of what was handed to a write). */
  #queuePos = 0;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inflight: Chunk | undefined;
  #error: Error | undefined;
  #waiters: Waiter[] = [];
  /** Bytes appended ever, and how many of them are written (or were given up on an error). */
  #appended = 0;
  #done = 0;
  /** Descriptors replaced (rotation, close) while a write to them was in flight. */
  readonly #retired = new Set<number>();

  constructor(path: string) {
    this.path = path;
  }

  get isOpen(): boolean {
    return this.#fd !== undefined;
  }

  /** Size of the file once everything appended so far is written. */
  get size(): number {
    return this.#queuePos + this.#queuedBytes;
  }

  /** Opens (creating) the file for writing at its current end. */
  open(): void {
    // Not O_APPEND: Linux ignores pwrite's offset on such files, and offsets keep the order.
    this.#fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT, 0o644);
    this.#queuePos = fstatSync(this.#fd).size;
  }

  /** Queues `bytes` for the end of the file (opening it when needed); never waits. */
  append(bytes: Uint8Array): void {
    this.#throwError();
    if (bytes.length === 0) return;
    if (this.#fd === undefined) this.open();
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#appended += bytes.length;
    if (this.#queuedBytes > MAX_QUEUED_BYTES) this.writeNowSync();
    else this.#pump();
  }

  #pump(): void {
    const fd = this.#fd;
    if (this.#inflight !== undefined || this.#queue.length === 0 || fd === undefined) return;
    const bytes = this.#queue.length === 1 ? (this.#queue[0] as Uint8Array) : concat(this.#queue);
    const chunk: Chunk = { fd, pos: this.#queuePos, bytes, end: this.#appended };
    this.#queue = [];
    this.#queuePos += this.#queuedBytes;
    this.#queuedBytes = 0;
    this.#start(chunk);
  }

  #start(chunk: Chunk): void {
    this.#inflight = chunk;
    write(chunk.fd, chunk.bytes, 0, chunk.bytes.length, chunk.pos, (err, n) =>
      this.#written(chunk, err, n),
    );
  }

  #written(chunk: Chunk, err: NodeJS.ErrnoException | null, n: number): void {
    if (err === null && n < chunk.bytes.length) {
      // A short write: the rest follows at its own offset.
      this.#start({ ...chunk, pos: chunk.pos + n, bytes: chunk.bytes.subarray(n) });
      return;
    }
    this.#inflight = undefined;
    if (this.#retired.delete(chunk.fd)) close(chunk.fd, () => undefined);
    this.#done = Math.max(this.#done, chunk.end);
    if (err !== null) {
      this.#error ??= err;
      // What was queued behind the failed chunk would leave a hole: it is dropped with it.
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#done = this.#appended;
      if (chunk.fd === this.#fd) this.#queuePos = chunk.pos;
    }
    this.#pump();
    this.#settle();
  }

  /** Settles the waiters whose bytes are written (all of them, rejected, after an error). */
  #settle(): void {
    if (this.#waiters.length === 0) return;
    const err = this.#error;
    const ready = this.#waiters.filter((w) => err !== undefined || w.target <= this.#done);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    if (err !== undefined) this.#error = undefined;
    for (const w of ready) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  #takeError(): Error | undefined {
    const err = this.#error;
    this.#error = undefined;
    return err;
  }

  #throwError(): void {
    const err = this.#takeError();
    if (err !== undefined) throw err;
  }

  /**
   * Resolves once everything appended before the call is written (later appends do not hold it
   * up); rejects with a failed write's error.
   */
  drain(): Promise<void> {
    const target = this.#appended;
    const err = this.#takeError();
    if (err !== undefined) return Promise.reject(err);
    if (target <= this.#done) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ target, resolve, reject }));
  }

  /** Waits for every queued write, then fsyncs: everything appended so far is durable. */
  async sync(): Promise<void> {
    await this.drain();
    const fd = this.#fd;
    if (fd === undefined) return;
    await new Promise<void>((resolve, reject) => {
      fsync(fd, (err) => (err === null ? resolve() : reject(err)));
    });
  }

  /**
   * Writes everything queued now, on the caller's thread (crash and signal handlers,
   * back-pressure). The chunk in flight is written again first, so nothing is left as a hole
   * even if the process ends before the thread pool gets to it.
   */
  writeNowSync(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    const inflight = this.#inflight;
    if (inflight !== undefined) writeAllSync(inflight.fd, inflight.bytes, inflight.pos);
    if (this.#queue.length > 0) {
      writeAllSync(fd, concat(this.#queue), this.#queuePos);
      this.#queue = [];
      this.#queuePos += this.#queuedBytes;
      this.#queuedBytes = 0;
    }
    this.#done = this.#appended;
    this.#settle();
  }

  /**
   * Writes everything synchronously, fsyncs and closes the descriptor now (a write still in
   * flight closes its own descriptor when it ends). For rotation; `close()` is the async way.
   */
  closeSync(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.writeNowSync();
    fsyncSync(fd);
    this.#fd = undefined;
    if (this.#inflight?.fd === fd) this.#retired.add(fd);
    else closeSync(fd);
  }

  /** Waits for every queued write, fsyncs and closes; throws a failed write's error. */
  async close(): Promise<void> {
    let err: Error | undefined;
    try {
      await this.drain();
    } catch (e) {
      err = asError(e);
    }
    const fd = this.#fd;
    if (fd !== undefined) {
      this.#fd = undefined;
      try {
        fsyncSync(fd);
      } catch (e) {
        err ??= asError(e);
      } finally {
        closeSync(fd);
      }
    }
    if (err !== undefined) throw err;
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
}

function writeAllSync(fd: number, bytes: Uint8Array, pos: number): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, pos + off);
}
