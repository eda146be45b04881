import * as tf from '@tensorflow/tfjs-core';
import { serveWorker } from '@x/tensor';
import type { DiffusionConfig, ModelConfig } from './config.js';
import type { HostLossAndGrads } from './gradPool.js';
import { lossAndGrads, type LossBatch } from './loss.js';
import { cosineSchedule } from './schedule.js';

/** What every gradient worker gets once, before its first micro-batch. */
export interface GradWorkerInit {
  model: ModelConfig;
  diffusion: DiffusionConfig;
}

/** One micro-batch: the parameter values (by name, in `names` order) and the batch. */
export interface GradWorkerJob {
  names: readonly string[];
  shapes: readonly (readonly number[])[];
  values: readonly Float32Array[];
  batch: LossBatch;
}

async function run(init: GradWorkerInit, job: GradWorkerJob): Promise<HostLossAndGrads> {
  const schedule = cosineSchedule(init.diffusion.landscapes);
  const tensors = job.values.map((v, i) => tf.tensor(v, job.shapes[i] as number[]));
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
      return { loss: r.loss, mse: r.mse, contrastive: r.contrastive, grads };
    } finally {
      r.grads.forEach((g) => g.dispose());
    }
  } finally {
    tensors.forEach((t) => t.dispose());
  }
}

serveWorker(run, { transfer: (r) => r.grads.map((g) => g.buffer as ArrayBuffer) });
