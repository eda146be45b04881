import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@x/tensor';
import type { DiffusionConfig, ModelConfig } from './config.js';
import { lossAndGrads, type LossBatch } from './loss.js';
import { cosineSchedule } from './schedule.js';

/** First message to a gradient worker. */
export interface GradWorkerInit {
  kind: 'init';
  backend: BackendName;
  model: ModelConfig;
  diffusion: DiffusionConfig;
}

/** One micro-batch: the parameter values (by name, in `names` order) and the batch. */
export interface GradWorkerJob {
  kind: 'job';
  id: number;
  names: string[];
  shapes: number[][];
  values: Float32Array[];
  batch: LossBatch;
}

/** A worker's answer to a job: loss terms and gradients in `names` order, or an error. */
export type GradWorkerReply =
  | { id: number; loss: number; mse: number; contrastive: number; grads: Float32Array[] }
  | { id: number; error: { message: string; code?: string } };

const port = parentPort;
let setup: Promise<GradWorkerInit> | undefined;
let queue: Promise<void> = Promise.resolve();

async function run(init: GradWorkerInit, job: GradWorkerJob): Promise<GradWorkerReply> {
  const schedule = cosineSchedule(init.diffusion.landscapes);
  const tensors = job.values.map((v, i) => tf.tensor(v, job.shapes[i]));
  try {
    const r = await lossAndGrads(
      init.model,
      init.diffusion,
      schedule,
      job.names,
      tensors,
      job.batch,
    );
    try {
      const grads: Float32Array[] = [];
      for (const g of r.grads) grads.push(Float32Array.from((await g.data()) as Float32Array));
      return { id: job.id, loss: r.loss, mse: r.mse, contrastive: r.contrastive, grads };
    } finally {
      r.grads.forEach((g) => g.dispose());
    }
  } finally {
    tensors.forEach((t) => t.dispose());
  }
}

port?.on('message', (msg: GradWorkerInit | GradWorkerJob) => {
  if (msg.kind === 'init') {
    setup = initBackend({ backend: msg.backend, threads: 1 }).then(() => msg);
    return;
  }
  queue = queue.then(async () => {
    let reply: GradWorkerReply;
    try {
      if (setup === undefined) throw new Error('gradient worker: job before init');
      reply = await run(await setup, msg);
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = {
        id: msg.id,
        error: {
          message: e.message ?? String(err),
          ...(e.code === undefined ? {} : { code: e.code }),
        },
      };
    }
    port.postMessage(
      reply,
      'grads' in reply ? reply.grads.map((g) => g.buffer as ArrayBuffer) : [],
    );
  });
});
