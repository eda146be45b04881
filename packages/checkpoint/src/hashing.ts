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
parentPort.on('message', ({ id, parts }) => {
  try {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    parentPort.postMessage({ id, hex: h.digest('hex') });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

type Answer = { id: number; hex: string } | { id: number; error: string };

interface Pending {
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

/** One hashing thread (started on first use; it does not keep the process alive when idle). */
class HashThread {
  #worker: Worker | undefined;
  #failed = false;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  /** Jobs this thread answered (for tests). */
  done = 0;

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, name: 'x-checkpoint-hash' });
      w.unref();
      w.on('message', (m: Answer) => {
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
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
      this.#worker = w;
    } catch {
      this.#failed = true;
    }
    return this.#worker;
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

const threads = { file: new HashThread(), digest: new HashThread() };

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
 * SHA-256 (hex) of the parts in order: on a worker thread when the parts are in shared memory
 * (at most 1 MiB of small unshared parts is copied to it), otherwise on the main thread between
 * yields.
 */
export function sha256Parts(parts: readonly Uint8Array[]): Promise<string> {
  return sha256On(threads.file, parts);
}

/**
 * `stateDigest` of the state (see {@link digestParts}): on a second worker thread when every
 * tensor is in shared memory, otherwise on the main thread between yields.
 */
export async function digestOf(state: State): Promise<string> {
  await yieldToLoop();
  return sha256On(threads.digest, digestParts(state));
}
