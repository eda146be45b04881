import { createHash, type Hash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import type { State } from '@x/core';
import { digestParts } from './digestParts.js';
import { startEvalWorker } from './evalWorker.js';

/** Bytes hashed (main thread) or copied into a ring (stream) between two yields to the event loop. */
const SLICE = 32 << 20;
/** Sequences shorter than this are hashed on the main thread: a worker round trip costs more. */
const INLINE = 1 << 20;
/** One ring slot: unshared bytes are copied (coalesced) into slots of this size. */
const RING_SLOT = 4 << 20;
/** Slots per stream: a ring holds at most this many slots (16 MiB) in flight. */
const RING_SLOTS = 4;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

// The worker is plain JavaScript (node:crypto only), so it runs the same from source and dist.
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { parentPort } = require('node:worker_threads');
const streams = new Map();
parentPort.on('message', ({ id, bytes, seq, final }) => {
  try {
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

/** The hashing thread failed (or could not start): the bytes are hashed on the main thread. */
class ThreadFailure extends Error {}

interface StreamHandlers {
  /** Called with the acknowledged sequence number, or with the thread's failure. */
  ack: (seqOrError: number | Error) => void;
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

/**
 * One hashing thread (started on first use; it does not keep the process alive when idle) with
 * its own pool of ring slots, reused by every stream on it.
 */
class HashThread {
  #worker: Worker | undefined;
  #failed = false;
  readonly #streams = new Map<number, StreamHandlers>();
  readonly #spare: SharedArrayBuffer[] = [];
  #next = 0;
  /** Streams this thread finished (for tests). */
  done = 0;
  /** Ring slots this thread ever allocated (for tests: they are reused across streams). */
  allocated = 0;

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    this.#worker = startEvalWorker<Answer>(WORKER_SOURCE, 'hash', {
      message: (m) => {
        const s = this.#streams.get(m.id);
        if (s === undefined) return;
        if ('ack' in m) {
          s.ack(m.ack);
          return;
        }
        this.#streams.delete(m.id);
        if (this.#streams.size === 0) this.#worker?.unref();
        this.done++;
        if ('hex' in m) s.resolve(m.hex);
        else {
          const failure = new ThreadFailure(m.error);
          s.ack(failure);
          s.reject(failure);
        }
      },
      fail: (err) => {
        this.#worker = undefined;
        this.#failed = true;
        const failure = new ThreadFailure(err.message);
        for (const s of this.#streams.values()) {
          s.ack(failure);
          s.reject(failure);
        }
        this.#streams.clear();
      },
    });
    if (this.#worker === undefined) this.#failed = true;
    return this.#worker;
  }

  /** Stops the thread as if it had died (tests of the main-thread fallback). */
  async kill(): Promise<void> {
    await this.#worker?.terminate();
  }

  #takeSlot(): SharedArrayBuffer {
    const b = this.#spare.pop();
    if (b !== undefined) return b;
    this.allocated++;
    return new SharedArrayBuffer(RING_SLOT);
  }

  #giveBack(slots: readonly SharedArrayBuffer[]): void {
    for (const b of slots) if (this.#spare.length < 2 * RING_SLOTS) this.#spare.push(b);
  }

  /** An incremental SHA-256 on this thread; undefined when no thread can be started here. */
  stream(): HashStream | undefined {
    const w = this.#start();
    if (w === undefined) return undefined;
    const id = this.#next++;
    const owned: SharedArrayBuffer[] = [];
    const busy = new Map<number, SharedArrayBuffer>();
    const hashed = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
    const free: SharedArrayBuffer[] = [];
    let seq = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    let fill: { slot: SharedArrayBuffer; used: number } | undefined;
    let sinceYield = 0;
    let finished: Promise<string> | undefined;
    let settle: StreamHandlers | undefined;
    const done = new Promise<string>((resolve, reject) => {
      settle = {
        ack: (s) => {
          if (s instanceof Error) {
            failure = s;
            for (const h of hashed.values()) h.reject(s);
            hashed.clear();
          } else {
            const slot = busy.get(s);
            busy.delete(s);
            if (slot !== undefined) free.push(slot);
            hashed.get(s)?.resolve();
            hashed.delete(s);
          }
          wake?.();
        },
        resolve,
        reject,
      };
    });
    done.catch(() => undefined);
    this.#streams.set(id, settle as StreamHandlers);
    w.ref();
    const post = (bytes: Uint8Array, slot?: SharedArrayBuffer) => {
      if (slot !== undefined) busy.set(seq, slot);
      w.postMessage({ id, bytes, seq: seq++ });
    };
    const flush = () => {
      if (fill === undefined) return;
      if (fill.used > 0) post(new Uint8Array(fill.slot, 0, fill.used), fill.slot);
      else free.push(fill.slot);
      fill = undefined;
    };
    const slot = async (): Promise<SharedArrayBuffer> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const f = free.pop();
        if (f !== undefined) return f;
        if (owned.length < RING_SLOTS) {
          const b = this.#takeSlot();
          owned.push(b);
          return b;
        }
        sinceYield = 0;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    };
    return {
      share: (view) =>
        new Promise<void>((resolve, reject) => {
          if (failure !== undefined) {
            reject(failure);
            return;
          }
          flush();
          hashed.set(seq, { resolve, reject });
          post(view);
        }),
      read: async (position, length, read) => {
        if (finished !== undefined) throw new Error('hash stream already finished');
        flush();
        for (let off = 0; off < length;) {
          const b = await slot();
          const view = new Uint8Array(b, 0, Math.min(RING_SLOT, length - off));
          try {
            await read(view, position + off);
          } catch (err) {
            free.push(b);
            throw err;
          }
          post(view, b);
          off += view.length;
        }
      },
      update: async (bytes) => {
        if (finished !== undefined) throw new Error('hash stream already finished');
        if (failure !== undefined) throw failure;
        if (bytes.buffer instanceof SharedArrayBuffer && bytes.length >= RING_SLOT / 4) {
          flush();
          post(bytes);
          return;
        }
        for (let off = 0; off < bytes.length;) {
          fill ??= { slot: await slot(), used: 0 };
          const n = Math.min(RING_SLOT - fill.used, bytes.length - off);
          new Uint8Array(fill.slot, fill.used, n).set(bytes.subarray(off, off + n));
          fill.used += n;
          off += n;
          if (fill.used === RING_SLOT) flush();
          sinceYield += n;
          if (sinceYield >= SLICE) {
            sinceYield = 0;
            await yieldToLoop();
          }
        }
      },
      finish: () => {
        if (finished !== undefined) return finished;
        if (failure === undefined) {
          flush();
          w.postMessage({ id, final: true });
        } else settle?.reject(failure);
        finished = done.finally(() => {
          if (fill !== undefined) free.push(fill.slot);
          // Slots still posted when the thread died are never read again either.
          this.#giveBack(owned);
        });
        return finished;
      },
    };
  }
}

/** Where the bytes of a SHA-256 come from, in order (see {@link sha256Of}). */
export interface HashSink {
  /**
   * Hashes these bytes next. Unshared bytes are copied into a small ring of reused shared slots
   * (coalescing small parts); bytes in shared memory are read in place, so they must not change
   * until the hash is done.
   */
  update(bytes: Uint8Array): Promise<void>;
  /**
   * Hashes the next `length` bytes, which `read` puts into the ring's slots itself (e.g. a file
   * read from `position` on), so they never pass through fresh memory or the main thread. `read`
   * must fill `into` completely or throw.
   */
  read(
    position: number,
    length: number,
    read: (into: Uint8Array, position: number) => Promise<void>,
  ): Promise<void>;
}

/** An incremental SHA-256 on a hashing thread. */
interface HashStream extends HashSink {
  /**
   * Hashes these shared bytes next, in place; resolves once they are hashed (so the caller may
   * reuse their memory), rejects when the thread fails.
   */
  share(view: Uint8Array): Promise<void>;
  /** The hex digest of everything hashed; also ends a stream abandoned after a failure. */
  finish(): Promise<string>;
}

const threads = { file: new HashThread(), digest: new HashThread() };

/** Which hashing thread: file checksums, or state digests (so both run at the same time). */
export type HashThreadName = keyof typeof threads;

/** Streams finished, ring slots allocated and bytes teed by the hashing threads so far (for tests). */
export function offThreadJobs(): {
  sha256: number;
  digest: number;
  slots: number;
  teedBytes: number;
} {
  return {
    sha256: threads.file.done,
    digest: threads.digest.done,
    slots: threads.file.allocated + threads.digest.allocated,
    teedBytes,
  };
}

/** Stops both hashing threads as if they had died; later hashes run on the main thread (tests). */
export async function killHashThreads(): Promise<void> {
  await Promise.all([threads.file.kill(), threads.digest.kill()]);
}

/** True when the view's memory is shared, so a worker can read it without a copy. */
export function isShared(v: ArrayBufferView): boolean {
  return v.buffer instanceof SharedArrayBuffer;
}

/** A main-thread SHA-256 whose updates yield to the event loop between slices. */
function mainThreadHash(): HashSink & { hash: Hash } {
  const hash = createHash('sha256');
  let sinceYield = 0;
  let buffer: Uint8Array | undefined;
  const update = async (p: Uint8Array) => {
    for (let off = 0; off < p.length; off += SLICE) {
      const slice = p.subarray(off, Math.min(p.length, off + SLICE));
      hash.update(slice);
      sinceYield += slice.length;
      if (sinceYield >= SLICE) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  };
  return {
    hash,
    update,
    read: async (position, length, read) => {
      buffer ??= new Uint8Array(Math.min(RING_SLOT, length));
      for (let off = 0; off < length;) {
        const view = buffer.subarray(0, Math.min(buffer.length, length - off));
        await read(view, position + off);
        await update(view);
        off += view.length;
      }
    },
  };
}

/**
 * SHA-256 (hex) of the bytes `feed` passes to the sink, in order, streamed to the named hashing
 * thread while `feed` runs (so the bytes may arrive as reads land). When the thread cannot start
 * or dies, `feed` runs again with a main-thread hash (it must be repeatable). Errors of `feed`
 * itself propagate after the stream is ended. With `size` under 1 MiB the hash runs on the main
 * thread directly.
 */
export async function sha256Of(
  thread: HashThreadName,
  feed: (sink: HashSink) => Promise<void>,
  size = Infinity,
): Promise<string> {
  const stream = size < INLINE ? undefined : threads[thread].stream();
  if (stream !== undefined) {
    try {
      await feed(stream);
    } catch (err) {
      await stream.finish().catch(() => undefined);
      if (!(err instanceof ThreadFailure)) throw err;
    }
    const hex = await stream.finish().catch((err: unknown) => {
      if (!(err instanceof ThreadFailure)) throw err;
      return undefined;
    });
    if (hex !== undefined) return hex;
  }
  const main = mainThreadHash();
  await feed(main);
  return main.hash.digest('hex');
}

function totalBytes(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** SHA-256 (hex) of the parts in order on the named thread (see {@link sha256Of}). */
function hashParts(thread: HashThreadName, parts: readonly Uint8Array[]): Promise<string> {
  return sha256Of(
    thread,
    async (sink) => {
      for (const p of parts) await sink.update(p);
    },
    totalBytes(parts),
  );
}

/**
 * SHA-256 (hex) of the parts in order, on the file hashing thread: parts in shared memory are read
 * in place, others are copied through its ring of reused shared slots; on the main thread between
 * yields when the parts are small or no worker can run.
 */
export function sha256Parts(parts: readonly Uint8Array[]): Promise<string> {
  return hashParts('file', parts);
}

/** Tee slots: each chunk of a tensor both hashes need is copied once into one of these. */
const teeSpare: SharedArrayBuffer[] = [];
/** Unshared parts at least this large are teed (smaller ones go through each ring). */
const TEE_MIN = 64 << 10;

/** Bytes copied once for both hashes so far (for tests). */
let teedBytes = 0;

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;

/**
 * Feeds both streams. While the two sequences reach the same large unshared tensor at the same
 * time (the usual case: the file and the digest order tensors alike), each of its chunks is
 * copied once into a tee slot that both threads hash in place; everything else, and the rest
 * after the orders first differ, goes through each stream's own ring.
 */
async function teeFeed(
  a: HashStream,
  b: HashStream,
  first: readonly Uint8Array[],
  second: readonly Uint8Array[],
): Promise<void> {
  const teeable = (p: Uint8Array | undefined) =>
    p !== undefined && p.length >= TEE_MIN && !isShared(p);
  const owned: SharedArrayBuffer[] = [];
  const free: SharedArrayBuffer[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const slot = async (): Promise<SharedArrayBuffer> => {
    for (;;) {
      if (failure !== undefined) throw failure;
      const f = free.pop();
      if (f !== undefined) return f;
      if (owned.length < RING_SLOTS) {
        const t = teeSpare.pop() ?? new SharedArrayBuffer(RING_SLOT);
        owned.push(t);
        return t;
      }
      await Promise.race(inFlight);
    }
  };
  let i = 0;
  let j = 0;
  let sinceYield = 0;
  try {
    for (;;) {
      while (i < first.length && !teeable(first[i])) await a.update(first[i++] as Uint8Array);
      while (j < second.length && !teeable(second[j])) await b.update(second[j++] as Uint8Array);
      const p = first[i];
      const q = second[j];
      if (p === undefined || q === undefined || !sameBytes(p, q)) break;
      for (let off = 0; off < p.length; off += RING_SLOT) {
        const t = await slot();
        const view = new Uint8Array(t, 0, Math.min(RING_SLOT, p.length - off));
        view.set(p.subarray(off, off + view.length));
        teedBytes += view.length;
        const both = Promise.all([a.share(view), b.share(view)]).then(
          () => void free.push(t),
          (err: unknown) => void (failure ??= err instanceof Error ? err : new Error(String(err))),
        );
        inFlight.add(both);
        void both.finally(() => inFlight.delete(both));
        sinceYield += view.length;
        if (sinceYield >= SLICE) {
          sinceYield = 0;
          await yieldToLoop();
        }
      }
      i++;
      j++;
    }
    await Promise.all([
      (async () => {
        while (i < first.length) await a.update(first[i++] as Uint8Array);
      })(),
      (async () => {
        while (j < second.length) await b.update(second[j++] as Uint8Array);
      })(),
    ]);
  } finally {
    await Promise.all(inFlight);
    for (const t of owned) if (teeSpare.length < RING_SLOTS) teeSpare.push(t);
  }
  if (failure !== undefined) throw failure;
}

/**
 * The file's SHA-256 (of `fileParts`) and the state digest (of `stateParts`, see
 * {@link digestParts}) of a save at once, on the two hashing threads, each tensor chunk copied
 * once for both (see {@link teeFeed}); falls back like {@link sha256Parts} and {@link digestOf}.
 */
export async function fileAndStateSha(
  fileParts: readonly Uint8Array[],
  stateParts: readonly Uint8Array[],
): Promise<[string, string]> {
  const separately = () =>
    Promise.all([hashParts('file', fileParts), hashParts('digest', stateParts)]);
  const a = totalBytes(fileParts) < INLINE ? undefined : threads.file.stream();
  const b = a === undefined ? undefined : threads.digest.stream();
  if (a === undefined || b === undefined) {
    await a?.finish().catch(() => undefined);
    return separately();
  }
  try {
    await teeFeed(a, b, fileParts, stateParts);
  } catch (err) {
    await Promise.allSettled([a.finish(), b.finish()]);
    if (!(err instanceof ThreadFailure)) throw err;
    return separately();
  }
  const [x, y] = await Promise.allSettled([a.finish(), b.finish()]);
  if (x.status === 'fulfilled' && y.status === 'fulfilled') return [x.value, y.value];
  for (const r of [x, y])
    if (r.status === 'rejected' && !(r.reason instanceof ThreadFailure)) throw r.reason as Error;
  return separately();
}

/**
 * `stateDigest` of the state (see {@link digestParts}) on the digest hashing thread, fed like
 * {@link sha256Parts} (shared tensors in place, others through that thread's own ring), so it
 * runs alongside the file checksum.
 */
export async function digestOf(state: State): Promise<string> {
  await yieldToLoop();
  return hashParts('digest', digestParts(state));
}
