import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { cpuPreset, type IredConfig } from './config.js';
import { parameterShapes, type Params } from './model.js';

/** A tiny, fast config for tests. */
export function tinyConfig(): IredConfig {
  const c = structuredClone(cpuPreset);
  c.model = {
    channels: 4,
    blocks: 1,
    kernel: 3,
    stemKernel: 3,
    outKernel: 1,
    timeDim: 8,
    fourierDim: 8,
  };
  c.train.batchSize = 2;
  c.train.ema = { decay: 0.9, every: 1, startAfter: 1 };
  c.diffusion.landscapes = 4;
  c.diffusion.optSteps = 2;
  return c;
}

/** Parameters of O(0.3) magnitude (so every term of the loss has a visible gradient). */
export function randomParams(cfg: IredConfig, seed: number, scale = 0.3): Params {
  const rng = Rng.fromSeed(seed);
  const out: Params = {};
  for (const [name, shape] of Object.entries(parameterShapes(cfg.model))) {
    const r = rng.stream(name);
    const n = shape.reduce((a, b) => a * b, 1);
    out[name] = tf.tensor(
      Float32Array.from({ length: n }, () => r.normal(0, scale)),
      shape,
    );
  }
  return out;
}
