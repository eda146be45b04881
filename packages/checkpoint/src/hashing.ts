import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isTensorData, stateDigest, type State } from '@x/core';
import type { HashJob, HashRequest, HashResponse } from './hashWorker.js';

/** Bytes hashed between two yields to the event loop when hashing on the main thread. */
const SLICE = 32 << 20;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** True when the view's memory is shared, so a worker can read it without a copy. */
export function isShared(v: ArrayBufferView): boolean {
  return v.buffer instanceof SharedArrayBuffer;
}

/** True when every tensor of the state lives in shared memory. */
export function tensorsShared(state: State): boolean {
  if (isTensorData(state)) return isShared(state.data);
  if (state === null || typeof state !== 'object') return true;
  return Object.values(state).every((v) => tensorsShared(v));
}

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
      const source = import.meta.url.endsWith('.ts');
      const url = new URL(source ? './hashWorker.ts' : './hashWorker.js', import.meta.url);
      const execArgv = source
        ? [
            '--conditions=@x/source',
            '--import',
            pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
          ]
        : [];
      const w = new Worker(url, { execArgv, name: 'x-checkpoint-hash' });
      w.unref();
      w.on('message', (m: HashResponse) => {
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

  /** Runs a request on the thread; undefined when no thread can be started here. */
  run(job: HashJob): Promise<string> | undefined {
    const w = this.#start();
    if (w === undefined) return undefined;
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.ref();
      const req: HashRequest = { ...job, id };
      w.postMessage(req);
    });
  }
}

const fileThread = new HashThread();
const digestThread = new HashThread();

/** Jobs answered by the hashing threads so far (file checksums, state digests). */
export function offThreadJobs(): { sha256: number; digest: number } {
  return { sha256: fileThread.done, digest: digestThread.done };
}

/** SHA-256 (hex) of the parts in order on the main thread, yielding between slices. */
export async function sha256OnMain(parts: readonly Uint8Array[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of parts) {
    for (let off = 0; off < p.length; off += SLICE) {
      h.update(p.subarray(off, Math.min(p.length, off + SLICE)));
      if (p.length > SLICE) await yieldToLoop();
    }
  }
  return h.digest('hex');
}

/**
 * SHA-256 (hex) of the parts in order: on a worker thread when every large part is in shared
 * memory (no copy is made), otherwise on the main thread between yields.
 */
export async function sha256Parts(parts: readonly Uint8Array[]): Promise<string> {
  if (parts.every((p) => p.length < 1 << 16 || isShared(p))) {
    const off = fileThread.run({ kind: 'sha256', parts: [...parts] });
    if (off !== undefined) return retryOnMain(off, () => sha256OnMain(parts));
  }
  return sha256OnMain(parts);
}

/**
 * `stateDigest` of the state: on a worker thread when every tensor is in shared memory (the
 * tree is cloned, tensor bytes are not), otherwise on the main thread.
 */
export async function digestOf(state: State): Promise<string> {
  if (tensorsShared(state)) {
    const off = digestThread.run({ kind: 'digest', state });
    if (off !== undefined) return retryOnMain(off, () => Promise.resolve(stateDigest(state)));
  }
  await yieldToLoop();
  return stateDigest(state);
}

async function retryOnMain(off: Promise<string>, onMain: () => Promise<string>): Promise<string> {
  try {
    return await off;
  } catch {
    return onMain();
  }
}
