import { WorkerPool, type BackendName } from '@x/tensor';
import type { DiffusionConfig, ModelConfig } from './config.js';
import type { GradWorkerInit, GradWorkerJob } from './gradWorker.js';
import type { LossBatch } from './loss.js';

/** Loss terms and gradients (host copies, in parameter order) of one micro-batch. */
export interface HostLossAndGrads {
  loss: number;
  mse: number;
  contrastive: number;
  grads: Float32Array[];
}

/**
 * Worker threads, each with its own single-threaded tfjs backend, that compute the loss and
 * gradients of micro-batches in parallel. Micro-batch `k` of a step goes to worker `k mod n`, and
 * the caller sums the results in micro-batch order, so a step's result does not depend on the
 * number of workers (the same single-threaded kernels compute every micro-batch).
 */
export class GradPool {
  readonly #pool: WorkerPool<GradWorkerInit, GradWorkerJob, HostLossAndGrads>;

  constructor(size: number, backend: BackendName, model: ModelConfig, diffusion: DiffusionConfig) {
    this.#pool = new WorkerPool({
      script: new URL('./gradWorker.js', import.meta.url),
      size,
      backend,
      init: { model, diffusion },
      name: 'gradient worker',
    });
  }

  /** Number of workers. */
  get size(): number {
    return this.#pool.size;
  }

  /** Loss and gradients of each batch (micro-batch `k` on worker `k mod size`), in batch order. */
  async run(
    names: readonly string[],
    shapes: readonly number[][],
    values: readonly Float32Array[],
    batches: readonly LossBatch[],
  ): Promise<HostLossAndGrads[]> {
    return await Promise.all(
      batches.map((batch, k) => this.#pool.run(k % this.size, { names, shapes, values, batch })),
    );
  }

  /** Stops the workers. */
  async dispose(): Promise<void> {
    await this.#pool.dispose();
  }
}
