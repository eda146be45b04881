import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { XError } from '@x/core';
import type { BackendName } from '@x/tensor';
import type { DatasetConfig } from './datasetConfig.js';
import type { OperatorRecord } from './datasetFile.js';
import type {
  GenerateWorkerInit,
  GenerateWorkerJob,
  GenerateWorkerReply,
} from './generateWorker.js';

function workerScript(): { url: URL; execArgv: string[] } {
  const source = import.meta.url.endsWith('.ts');
  return {
    url: new URL(source ? './generateWorker.ts' : './generateWorker.js', import.meta.url),
    // tsx by absolute URL: a bare `--import tsx` resolves from the working directory.
    execArgv: source
      ? [
          '--conditions=@x/source',
          '--import',
          pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        ]
      : [],
  };
}

/**
 * Worker threads, each with its own single-threaded backend, computing operators in parallel.
 * Each operator's rollout is computed by the same single-threaded kernels whichever worker runs
 * it, so records (and trajectory hashes) do not depend on the number of workers. Idle workers do
 * not keep the process alive, so a pool is kept for later calls (worker start-up is seconds).
 */
export class GeneratePool {
  readonly size: number;
  readonly backend: BackendName;
  failed = false;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (r: OperatorRecord) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;

  constructor(size: number, backend: BackendName) {
    this.size = size;
    this.backend = backend;
    const { url, execArgv } = workerScript();
    const init: GenerateWorkerInit = { kind: 'init', backend };
    for (let i = 0; i < size; i++) {
      const w = new Worker(url, { execArgv });
      w.on('message', (r: GenerateWorkerReply) => {
        const p = this.#pending.get(r.id);
        if (p === undefined) return;
        this.#pending.delete(r.id);
        if (this.#pending.size === 0) for (const x of this.#workers) x.unref();
        if ('error' in r)
          p.reject(new XError((r.error.code as never) ?? 'INTERNAL', r.error.message));
        else p.resolve(r.record);
      });
      w.on('error', (err: Error) => {
        this.failed = true;
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      });
      w.postMessage(init);
      w.unref();
      this.#workers.push(w);
    }
  }

  /** The records of `indices` (the k-th on worker k mod size), in order. */
  /**
   * The records of `indices`, in order. Each worker takes the next operator when it finishes
   * one (operators differ in cost); which worker computes an operator does not change it.
   */
  async run(
    config: DatasetConfig,
    indices: readonly number[],
    realizationBatch?: number,
  ): Promise<OperatorRecord[]> {
    for (const w of this.#workers) w.ref();
    const out = new Array<OperatorRecord>(indices.length);
    let next = 0;
    const one = (w: Worker, k: number) =>
      new Promise<OperatorRecord>((resolve, reject) => {
        const id = this.#nextId++;
        this.#pending.set(id, { resolve, reject });
        const job: GenerateWorkerJob = {
          kind: 'job',
          id,
          config,
          index: indices[k] as number,
          ...(realizationBatch === undefined ? {} : { realizationBatch }),
        };
        w.postMessage(job);
      });
    const drain = async (w: Worker) => {
      while (next < indices.length) {
        const k = next++;
        out[k] = await one(w, k);
      }
    };
    await Promise.all(this.#workers.map(drain));
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
