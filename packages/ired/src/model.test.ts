import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { checkGradients, initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { paperPreset } from './config.js';
import { generatePuzzles, SATNET_GIVENS } from './generator.js';
import { lossParts, makeLossBatch } from './loss.js';
import {
  energy,
  energyAndGrad,
  energyGrad,
  initParams,
  parameterCount,
  type Params,
} from './model.js';
import { cosineSchedule } from './schedule.js';
import { randomParams, tinyConfig } from './testing.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function tensorOf(seed: number, shape: number[], scale = 1): tf.Tensor {
  const r = Rng.fromSeed(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal(0, scale)),
    shape,
  );
}

describe('schedule', () => {
  it('matches the reference table for T = 10', () => {
    const s = cosineSchedule(10);
    const sqrtA = [0.986, 0.948, 0.8871, 0.8047, 0.7027, 0.5838, 0.4507, 0.3067, 0.1552, 0.0049];
    const step = [0.167, 0.237, 0.269, 0.298, 0.334, 0.382, 0.453, 0.564, 0.753, 0.999];
    sqrtA.forEach((v, t) => expect(s.sqrtAlphasCumprod[t]).toBeCloseTo(v, 3));
    step.forEach((v, t) => expect(s.optStepSize[t]).toBeCloseTo(v, 3));
  });
});

describe('SudokuEBM', () => {
  it('has the paper preset size (≈44.9M used parameters)', () => {
    expect(parameterCount(paperPreset.model) / 1e6).toBeCloseTo(44.9, 0);
  });

  it('maps [B,729] boards to [B] energies and gives ∇_y consistent with energyAndGrad', async () => {
    const cfg = tinyConfig();
    const params = initParams(cfg.model, Rng.fromSeed(1));
    const p = params.record();
    const inp = tensorOf(3, [3, 729]) as tf.Tensor2D;
    const y = tensorOf(4, [3, 729]) as tf.Tensor2D;
    const e = energy(cfg.model, p, inp, y, [0, 1, 3]);
    expect(e.shape).toEqual([3]);
    const g = energyGrad(cfg.model, p, inp, y, [0, 1, 3]);
    const both = energyAndGrad(cfg.model, p, inp, y, [0, 1, 3]);
    expect(Array.from(both.energy.dataSync())).toEqual(Array.from(e.dataSync()));
    expect(tf.max(tf.abs(tf.sub(both.grad, g))).dataSync()[0]).toBe(0);
    expect((await initParams(cfg.model, Rng.fromSeed(1)).getState())['stem/kernel']!.data).toEqual(
      (await params.getState())['stem/kernel']!.data,
    );
  });

  it("the loss's parameter gradient (double backprop through ∇_y E) matches finite differences", async () => {
    const cfg = tinyConfig();
    const schedule = cosineSchedule(cfg.diffusion.landscapes);
    const puzzles = generatePuzzles(Rng.fromSeed(5), 2, SATNET_GIVENS);
    const batch = makeLossBatch(puzzles, cfg.diffusion.landscapes, 0.3, Rng.fromSeed(6));
    const params = randomParams(cfg, 7, 0.15);
    const f = (p: Params) => {
      const r = lossParts(cfg.model, cfg.diffusion, schedule, p, batch);
      r.mse.dispose();
      r.contrastive.dispose();
      return r.total;
    };
    const result = await checkGradients(f, params, {
      samples: 4,
      eps: 1e-2,
      rtol: 3e-2,
      atol: 1e-5,
    });
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
    expect(result.checked).toBeGreaterThan(40);
  });
});
