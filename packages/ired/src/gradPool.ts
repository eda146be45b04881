import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { XError } from '@x/core';
import type { BackendName } from '@x/tensor';
import type { DiffusionConfig, ModelConfig } from './config.js';
import type { GradWorkerInit, GradWorkerJob, GradWorkerReply } from './gradWorker.js';
import type { LossBatch } from './loss.js';

/** Loss terms and gradients (host copies, in parameter order) of one micro-batch. */
export interface HostLossAndGrads {
  loss: number;
  mse: number;
  contrastive: number;
  grads: Float32Array[];
}

interface Pending {
  resolve: (r: HostLossAndGrads) => void;
  reject: (e: Error) => void;
}

/** The worker script next to this module: the TypeScript source under tsx/vitest, else built JS. */
function workerScript(): { url: URL; execArgv: string[] } {
  const source = import.meta.url.endsWith('.ts');
  return {
    url: new URL(source ? './gradWorker.ts' : './gradWorker.js', import.meta.url),
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
 * Worker threads, each with its own single-threaded tfjs backend, that compute the loss and
 * gradients of micro-batches in parallel. Micro-batch `k` of a step goes to worker `k mod n`, and
 * the caller sums the results in micro-batch order, so a step's result does not depend on the
 * number of workers (the same single-threaded kernels compute every micro-batch).
 */
export class GradPool {
  readonly size: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failed: Error | undefined;

  constructor(size: number, backend: BackendName, model: ModelConfig, diffusion: DiffusionConfig) {
    this.size = size;
    const { url, execArgv } = workerScript();
    const init: GradWorkerInit = { kind: 'init', backend, model, diffusion };
    for (let i = 0; i < size; i++) {
      const w = new Worker(url, { execArgv });
      w.on('message', (r: GradWorkerReply) => this.#settle(r));
      w.on('error', (err: Error) => this.#fail(err));
      w.on('exit', (code) => {
        if (this.#pending.size > 0)
          this.#fail(new Error(`gradient worker exited with code ${code}`));
      });
      w.postMessage(init);
      w.unref();
      this.#workers.push(w);
    }
  }

  #settle(r: GradWorkerReply): void {
    const p = this.#pending.get(r.id);
    if (p === undefined) return;
    this.#pending.delete(r.id);
    if (this.#pending.size === 0) for (const w of this.#workers) w.unref();
    if ('error' in r) p.reject(new XError((r.error.code as never) ?? 'INTERNAL', r.error.message));
    else p.resolve(r);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Loss and gradients of each batch (micro-batch `k` on worker `k mod size`), in batch order. */
  async run(
    names: readonly string[],
    shapes: readonly number[][],
    values: readonly Float32Array[],
    batches: readonly LossBatch[],
  ): Promise<HostLossAndGrads[]> {
    if (this.#failed !== undefined)
      throw new XError('INTERNAL', `gradient worker failed: ${this.#failed.message}`);
    for (const w of this.#workers) w.ref();
    return await Promise.all(
      batches.map((batch, k) => {
        const id = this.#nextId++;
        const job: GradWorkerJob = {
          kind: 'job',
          id,
          names: [...names],
          shapes: shapes.map((s) => [...s]),
          values: [...values],
          batch,
        };
        return new Promise<HostLossAndGrads>((resolve, reject) => {
          this.#pending.set(id, { resolve, reject });
          (this.#workers[k % this.size] as Worker).postMessage(job);
        });
      }),
    );
  }

  /** Stops the workers. */
  async dispose(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
