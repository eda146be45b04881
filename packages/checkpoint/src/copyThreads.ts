import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startEvalWorker } from './evalWorker.js';

/** Shared sources smaller than this are copied on the main thread: a round trip costs more. */
const MIN_SPLIT = 1 << 20;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, jobs }) => {
  try {
    for (const [src, srcOffset, dst, dstOffset, length] of jobs)
      new Uint8Array(dst, dstOffset, length).set(new Uint8Array(src, srcOffset, length));
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

/** One byte copy: `length` bytes from `src` at `srcOffset` to `dst` at `dstOffset`. */
export type CopyJob = [
  src: ArrayBufferLike,
  srcOffset: number,
  dst: SharedArrayBuffer,
  dstOffset: number,
  length: number,
];

type Answer = { id: number; error?: string };

/** A copy thread (started on first use; it does not keep the process alive when idle). */
class CopyThread {
  #worker: Worker | undefined;
  #failed = false;
  #next = 0;
  readonly #waiting = new Map<number, (error?: string) => void>();

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    this.#worker = startEvalWorker<Answer>(WORKER_SOURCE, 'copy', {
      message: (m) => {
        const done = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        if (this.#waiting.size === 0) this.#worker?.unref();
        done?.(m.error);
      },
      fail: (err) => {
        this.#worker = undefined;
        this.#failed = true;
        for (const done of this.#waiting.values()) done(err.message);
        this.#waiting.clear();
      },
    });
    if (this.#worker === undefined) this.#failed = true;
    return this.#worker;
  }

  /** Runs the jobs on this thread; resolves false (nothing to trust) when it cannot. */
  run(jobs: CopyJob[]): Promise<boolean> {
    const w = this.#start();
    if (w === undefined) return Promise.resolve(false);
    const id = this.#next++;
    w.ref();
    return new Promise((resolve) => {
      this.#waiting.set(id, (error) => resolve(error === undefined));
      w.postMessage({ id, jobs });
    });
  }

  async kill(): Promise<void> {
    await this.#worker?.terminate();
  }
}

const pool: CopyThread[] = [];
let copiedOffThread = 0;

/** Helper threads besides the main one: one per further core, at most 3. */
function helpers(): CopyThread[] {
  const n = Math.max(1, Math.min(3, availableParallelism() - 1));
  while (pool.length < n) pool.push(new CopyThread());
  return pool;
}

function runHere(jobs: readonly CopyJob[]): void {
  for (const [src, so, dst, dO, n] of jobs)
    new Uint8Array(dst, dO, n).set(new Uint8Array(src, so, n));
}

/**
 * Runs the copies, splitting those whose source is shared memory between the main thread and
 * helper threads (so a large shared state is copied at several cores' bandwidth); unshared
 * sources can only be read here. A helper that fails leaves its share to the main thread.
 */
export async function copyBytes(jobs: readonly CopyJob[]): Promise<void> {
  const here: CopyJob[] = [];
  const shared: CopyJob[] = [];
  let hereBytes = 0;
  let sharedBytes = 0;
  for (const j of jobs) {
    if (j[0] instanceof SharedArrayBuffer && j[4] >= MIN_SPLIT) {
      shared.push(j);
      sharedBytes += j[4];
    } else {
      here.push(j);
      hereBytes += j[4];
    }
  }
  const threads = sharedBytes > 0 ? helpers() : [];
  // Every thread (main included) ends with about the same number of bytes, as far as the shared
  // bytes allow (the main thread keeps all the unshared ones).
  const target =
    threads.length === 0
      ? 0
      : Math.min(sharedBytes / threads.length, (hereBytes + sharedBytes) / (threads.length + 1));
  const shares: CopyJob[][] = threads.map(() => []);
  let t = 0;
  let load = 0;
  for (const [src, so, dst, dO, n] of shared) {
    let off = 0;
    while (off < n) {
      if (t >= threads.length) {
        here.push([src, so + off, dst, dO + off, n - off]);
        break;
      }
      const take = Math.min(n - off, Math.max(0, Math.ceil(target - load)));
      if (take > 0) (shares[t] as CopyJob[]).push([src, so + off, dst, dO + off, take]);
      off += take;
      load += take;
      if (load >= target) {
        t++;
        load = 0;
      }
    }
  }
  const sent = threads.map((th, i) =>
    (shares[i] as CopyJob[]).length === 0 ? Promise.resolve(true) : th.run(shares[i] as CopyJob[]),
  );
  runHere(here);
  const ok = await Promise.all(sent);
  ok.forEach((good, i) => {
    const share = shares[i] as CopyJob[];
    if (good) for (const j of share) copiedOffThread += j[4];
    else runHere(share);
  });
}

/** Bytes copied by helper threads so far (for tests). */
export function offThreadCopiedBytes(): number {
  return copiedOffThread;
}

/** Stops the copy threads as if they had died; later copies run on the main thread (tests). */
export async function killCopyThreads(): Promise<void> {
  await Promise.all(pool.map((t) => t.kill()));
}
