import { WorkerPool, type BackendName } from '@x/tensor';
import type { DatasetConfig } from './datasetConfig.js';
import type { OperatorRecord } from './datasetFile.js';
import type { GenerateWorkerJob } from './generateWorker.js';

/**
 * Worker threads, each with its own single-threaded backend, computing operators in parallel.
 * Each operator's rollout is computed by the same single-threaded kernels whichever worker runs
 * it, so records (and trajectory hashes) do not depend on the number of workers. Idle workers do
 * not keep the process alive, so a pool is kept for later calls (worker start-up is seconds).
 */
export class GeneratePool {
  readonly #pool: WorkerPool<undefined, GenerateWorkerJob, OperatorRecord>;

  constructor(size: number, backend: BackendName) {
    this.#pool = new WorkerPool({
      script: new URL('./generateWorker.js', import.meta.url),
      size,
      backend,
      init: undefined,
      name: 'generation worker',
    });
  }

  /** Number of workers. */
  get size(): number {
    return this.#pool.size;
  }

  /** The backend the workers run. */
  get backend(): BackendName {
    return this.#pool.backend;
  }

  /** Whether a worker crashed or exited (the pool then rejects every job). */
  get failed(): boolean {
    return this.#pool.failed !== undefined;
  }

  /**
   * The records of `indices`, in order. Each worker takes the next operator when it finishes
   * one (operators differ in cost); which worker computes an operator does not change it.
   */
  async run(
    config: DatasetConfig,
    indices: readonly number[],
    realizationBatch?: number,
  ): Promise<OperatorRecord[]> {
    const out = new Array<OperatorRecord>(indices.length);
    let next = 0;
    const drain = async (worker: number) => {
      while (next < indices.length) {
        const k = next++;
        out[k] = await this.#pool.run(worker, {
          config,
          index: indices[k] as number,
          ...(realizationBatch === undefined ? {} : { realizationBatch }),
        });
      }
    };
    await Promise.all(Array.from({ length: this.size }, (_, w) => drain(w)));
    return out;
  }

  /** Stops the workers. */
  async dispose(): Promise<void> {
    await this.#pool.dispose();
  }
}
