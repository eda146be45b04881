import { parentPort } from 'node:worker_threads';
import { initBackend, type BackendName } from './backend.js';

/** First message from a pool to each worker: the backend to start and the pool's own data. */
export interface InitMessage {
  kind: 'init';
  backend: BackendName;
  init: unknown;
}

/** One job for a worker. */
export interface JobMessage {
  kind: 'job';
  id: number;
  job: unknown;
}

/** A worker's answer to job `id`: the result, or the error it threw (message and code). */
export type ReplyMessage =
  { id: number; result: unknown } | { id: number; error: { message: string; code?: string } };

/** Options of {@link serveWorker}. */
export interface ServeWorkerOptions<TResult> {
  /** Buffers of a result to move to the pool instead of copying (default none). */
  transfer?: (result: TResult) => ArrayBuffer[];
}

function errorReply(id: number, err: unknown): ReplyMessage {
  const e = err as { message?: unknown; code?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { id, error: typeof e?.code === 'string' ? { message, code: e.code } : { message } };
}

/**
 * The worker side of a {@link WorkerPool}: call it once at the top of the worker script. It starts
 * the single-threaded backend the pool asks for, then runs `run` on each job in arrival order (one
 * at a time) and posts the result, or the thrown error's message and `code`, back to the pool.
 * Does nothing outside a worker thread.
 *
 * @example
 * serveWorker<{ scale: number }, Float32Array, Float32Array>(
 *   (init, job) => job.map((v) => v * init.scale),
 *   { transfer: (r) => [r.buffer as ArrayBuffer] },
 * );
 */
export function serveWorker<TInit, TJob, TResult>(
  run: (init: TInit, job: TJob) => TResult | Promise<TResult>,
  options: ServeWorkerOptions<TResult> = {},
): void {
  const port = parentPort;
  if (port === null) return;
  let setup: Promise<TInit> | undefined;
  let queue = Promise.resolve();
  port.on('message', (msg: InitMessage | JobMessage) => {
    if (msg.kind === 'init') {
      setup = initBackend({ backend: msg.backend, threads: 1 }).then(() => msg.init as TInit);
      return;
    }
    queue = queue.then(async () => {
      let reply: ReplyMessage;
      let transfer: ArrayBuffer[] = [];
      try {
        if (setup === undefined) throw new Error('job before init');
        const result = await run(await setup, msg.job as TJob);
        transfer = options.transfer?.(result) ?? [];
        reply = { id: msg.id, result };
      } catch (err) {
        reply = errorReply(msg.id, err);
      }
      port.postMessage(reply, transfer);
    });
  });
}
