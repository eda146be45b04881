import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { State } from '@x/core';
import { digestParts } from './digestParts.js';

/** Bytes hashed between two yields to the event loop when hashing on the main thread. */
const SLICE = 32 << 20;
/** Unshared parts smaller than this are copied to the worker (up to MAX_COPIED bytes in all). */
const SMALL = 1 << 16;
const MAX_COPIED = 1 << 20;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

// The worker is plain JavaScript (node:crypto only), so it runs the same from source and dist.
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { parentPort } = require('node:worker_threads');
const streams = new Map();
parentPort.on('message', ({ id, parts, bytes, seq, final }) => {
  try {
    if (parts !== undefined) {
      const h = createHash('sha256');
      for (const p of parts) h.update(p);
      parentPort.postMessage({ id, hex: h.digest('hex') });
      return;
    }
    let h = streams.get(id);
    if (h === undefined) streams.set(id, (h = createHash('sha256')));
    if (bytes !== undefined) {
      h.update(bytes);
      parentPort.postMessage({ id, ack: seq });
    }
    if (final) {
      streams.delete(id);
      parentPort.postMessage({ id, hex: h.digest('hex') });
    }
  } catch (err) {
    streams.delete(id);
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

type Answer =
  { id: number; hex: string } | { id: number; error: string } | { id: number; ack: number };

interface Pending {
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

/** One hashing thread (started on first use; it does not keep the process alive when idle). */
class HashThread {
  #worker: Worker | undefined;
  #failed = false;
  readonly #pending = new Map<number, Pending>();
  readonly #acks = new Map<number, (seqOrError: number | Error) => void>();
  #next = 0;
  /** Jobs this thread answered (for tests). */
  done = 0;

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, name: 'x-checkpoint-hash' });
      w.unref();
      w.on('message', (m: Answer) => {
        if ('ack' in m) {
          this.#acks.get(m.id)?.(m.ack);
          return;
        }
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        if (this.#pending.size === 0) w.unref();
        this.done++;
        if ('hex' in m) p.resolve(m.hex);
        else p.reject(new Error(m.error));
      });
      const fail = (err: Error) => {
        this.#worker = undefined;
        this.#failed = true;
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
        for (const ack of this.#acks.values()) ack(err);
        this.#acks.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
      this.#worker = w;
    } catch {
      this.#failed = true;
    }
    return this.#worker;
  }

  /** An incremental SHA-256 on this thread; undefined when no thread can be started here. */
  stream(): HashStream | undefined {
    const w = this.#start();
    if (w === undefined) return undefined;
    const id = this.#next++;
    const slots: SharedArrayBuffer[] = [];
    const busy = new Map<number, SharedArrayBuffer>();
    const free: SharedArrayBuffer[] = [];
    let seq = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    this.#acks.set(id, (s) => {
      if (s instanceof Error) failure = s;
      else {
        const slot = busy.get(s);
        busy.delete(s);
        if (slot !== undefined) free.push(slot);
      }
      wake?.();
    });
    w.ref();
    const release = () => {
      this.#acks.delete(id);
      for (const b of slots) if (spareSlots.length < RING_SLOTS) spareSlots.push(b);
    };
    const slot = async (): Promise<SharedArrayBuffer> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const f = free.pop();
        if (f !== undefined) return f;
        if (slots.length < RING_SLOTS) {
          const b = spareSlots.pop() ?? new SharedArrayBuffer(RING_SLOT);
          slots.push(b);
          return b;
        }
        await new Promise<void>((r) => (wake = r));
      }
    };
    return {
      update: async (bytes) => {
        for (let off = 0; off < bytes.length; off += RING_SLOT) {
          const n = Math.min(RING_SLOT, bytes.length - off);
          const b = await slot();
          const view = new Uint8Array(b, 0, n);
          view.set(bytes.subarray(off, off + n));
          busy.set(seq, b);
          w.postMessage({ id, bytes: view, seq: seq++ });
        }
      },
      finish: () =>
        new Promise<string>((resolve, reject) => {
          if (failure !== undefined) {
            release();
            reject(failure);
            return;
          }
          this.#pending.set(id, {
            resolve: (hex) => {
              release();
              resolve(hex);
            },
            reject: (err) => {
              release();
              reject(err);
            },
          });
          w.postMessage({ id, final: true });
        }),
    };
  }

  /** SHA-256 of the parts on this thread; undefined when no thread can be started here. */
  run(parts: readonly Uint8Array[]): Promise<string> | undefined {
    const w = this.#start();
    if (w === undefined) return undefined;
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, parts });
    });
  }
}

const RING_SLOT = 8 << 20;
const RING_SLOTS = 4;
const spareSlots: SharedArrayBuffer[] = [];

/** An incremental SHA-256 on a hashing thread, fed through a small ring of shared buffers. */
export interface HashStream {
  /** Copies the bytes into the ring (waiting for a free slot) and queues them for hashing. */
  update(bytes: Uint8Array): Promise<void>;
  /** The hex digest of everything updated. */
  finish(): Promise<string>;
}

const threads = { file: new HashThread(), digest: new HashThread() };

/**
 * An incremental SHA-256 of bytes in unshared memory on the file hashing thread (each chunk is
 * copied through a 32 MiB ring of reused shared buffers), or undefined when no thread can be
 * started.
 */
export function fileHashStream(): HashStream | undefined {
  return threads.file.stream();
}

/** Jobs answered by the hashing threads so far (file checksums, state digests). */
export function offThreadJobs(): { sha256: number; digest: number } {
  return { sha256: threads.file.done, digest: threads.digest.done };
}

/** True when the view's memory is shared, so a worker can read it without a copy. */
export function isShared(v: ArrayBufferView): boolean {
  return v.buffer instanceof SharedArrayBuffer;
}

/** SHA-256 (hex) of the parts in order on the main thread, yielding between slices. */
async function sha256OnMain(parts: readonly Uint8Array[]): Promise<string> {
  const h = createHash('sha256');
  let sinceYield = 0;
  for (const p of parts) {
    for (let off = 0; off < p.length; off += SLICE) {
      const slice = p.subarray(off, Math.min(p.length, off + SLICE));
      h.update(slice);
      sinceYield += slice.length;
      if (sinceYield >= SLICE) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  }
  return h.digest('hex');
}

async function sha256On(thread: HashThread, parts: readonly Uint8Array[]): Promise<string> {
  let copied = 0;
  for (const p of parts) if (!isShared(p)) copied += p.length < SMALL ? p.length : Infinity;
  if (copied <= MAX_COPIED) {
    const off = thread.run(parts);
    if (off !== undefined) {
      try {
        return await off;
      } catch {
        // The thread died: hash here instead.
      }
    }
  }
  return sha256OnMain(parts);
}

/**
 * SHA-256 (hex) of the parts in order, on a worker thread: read in place when the parts are in
 * shared memory (at most 1 MiB of small unshared parts is copied), else streamed through the
 * ring of {@link fileHashStream}; on the main thread between yields when no worker can run.
 */
export async function sha256Parts(parts: readonly Uint8Array[]): Promise<string> {
  let total = 0;
  for (const p of parts) total += p.length;
  if (total < RING_SLOT || parts.every((p) => isShared(p) || p.length < SMALL))
    return sha256On(threads.file, parts);
  const stream = fileHashStream();
  if (stream === undefined) return sha256OnMain(parts);
  try {
    for (const p of parts) await stream.update(p);
  } catch {
    await stream.finish().catch(() => undefined);
    return sha256OnMain(parts);
  }
  return stream.finish().catch(() => sha256OnMain(parts));
}

/**
 * `stateDigest` of the state (see {@link digestParts}): on a second worker thread when every
 * tensor is in shared memory, otherwise on the main thread between yields.
 */
export async function digestOf(state: State): Promise<string> {
  await yieldToLoop();
  return sha256On(threads.digest, digestParts(state));
}
