import { threadId } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentBackend } from '../backend.js';
import { serveWorker } from '../workerServe.js';

export interface PoolInit {
  tag: string;
}

export type PoolJob =
  | { op: 'echo'; value: number; delayMs: number }
  | { op: 'throw'; message: string; code?: string }
  | { op: 'exit'; code: number }
  | { op: 'crash' };

export interface PoolResult {
  value: number;
  tag: string;
  /** Jobs this worker has run, this one included. */
  seq: number;
  threadId: number;
  backend: string | undefined;
  threads: number | undefined;
  data: Float32Array;
}

let seq = 0;

serveWorker<PoolInit, PoolJob, PoolResult>(
  async (init, job) => {
    seq++;
    switch (job.op) {
      case 'echo': {
        await sleep(job.delayMs);
        const info = currentBackend();
        return {
          value: job.value,
          tag: init.tag,
          seq,
          threadId,
          backend: info?.name,
          threads: info?.threads,
          data: Float32Array.of(job.value, job.value + 0.5),
        };
      }
      case 'throw':
        throw Object.assign(
          new Error(job.message),
          job.code === undefined ? {} : { code: job.code },
        );
      case 'exit':
        return process.exit(job.code);
      case 'crash':
        setImmediate(() => {
          throw new Error('boom outside a job');
        });
        return await new Promise<never>(() => undefined);
    }
  },
  { transfer: (r) => [r.data.buffer as ArrayBuffer] },
);
