import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { swish } from './activations.js';
import { currentBackend, initBackend, type BackendName } from './backend.js';
import {
  checkGradients,
  checkSecondOrder,
  gradientMatchingLoss,
  type EnergyFn,
} from './gradCheck.js';
import { conv2d, groupNorm } from './layers.js';
import { selfCheck } from './selfCheck.js';

function randn(seed: string, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.fromSeed(seed).fillNormal(new Float32Array(n), 0, std), shape);
}

function scaledGrad(scale: number): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    return { value: tf.square(x), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.mul(2 * scale, x)) };
  });
}

/** IRED-like energy on 9x9 boards: conv → groupNorm → swish → conv, E = mean(f²). */
function boardEnergy(act: (t: tf.Tensor) => tf.Tensor): EnergyFn {
  return (x, p) => {
    const h = act(groupNorm(conv2d(x as tf.Tensor4D, p['k1'] as tf.Tensor4D), 2));
    return tf.mean(tf.square(conv2d(h as tf.Tensor4D, p['k2'] as tf.Tensor4D)));
  };
}

describe('checkGradients', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('accepts a correct gradient and rejects one that is 5% off', async () => {
    const x = randn('x', [6]);
    const good = await checkGradients((p) => tf.sum(scaledGrad(1)(p['x'] as tf.Tensor)), { x });
    expect(good.ok).toBe(true);
    expect(good.maxRelError).toBeLessThan(1e-3);
    const bad = await checkGradients((p) => tf.sum(scaledGrad(1.05)(p['x'] as tf.Tensor)), { x });
    expect(bad.ok).toBe(false);
    expect(bad.maxRelError).toBeGreaterThan(0.02);
    expect(bad.worst.param).toBe('x');
    expect(bad.worst.analytic / bad.worst.numeric).toBeCloseTo(1.05, 2);
  });

  it('samples large parameters deterministically', async () => {
    const w = randn('w', [40, 10], 0.3);
    const f = (p: Record<string, tf.Tensor>) => tf.sum(swish(p['w'] as tf.Tensor));
    const a = await checkGradients(f, { w }, { samples: 7 });
    const b = await checkGradients(f, { w }, { samples: 7 });
    expect(a.checked).toBe(7);
    expect(a).toEqual(b);
  });

  it('rejects a non-scalar loss', async () => {
    await expect(checkGradients((p) => p['x'] as tf.Scalar, { x: tf.ones([2]) })).rejects.toThrow(
      /scalar/,
    );
  });

  it('gradientMatchingLoss is ‖∇ₓE − target‖²', () => {
    const x = tf.tensor([1, -2, 3]);
    const energy: EnergyFn = (xx, p) => tf.sum(tf.mul(p['a'] as tf.Tensor, tf.square(xx)));
    const loss = gradientMatchingLoss(energy, x, { a: tf.scalar(0.5) }, tf.tensor([1, 0, 0]));
    expect(loss.dataSync()[0]).toBeCloseTo(0 + 4 + 9, 5);
  });
});

describe.each<BackendName>(['cpu', 'wasm'])('second-order training gradients on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  const params = () => ({ k1: randn('k1', [3, 3, 2, 4], 0.3), k2: randn('k2', [3, 3, 4, 1], 0.3) });
  const x = () => randn('board', [1, 9, 9, 2], 0.7);

  it('d/dθ ‖∇ₓE(x;θ) − target‖² matches finite differences for a conv/groupNorm/swish energy', async () => {
    const r = await checkSecondOrder(boardEnergy(swish), x(), params(), {
      target: randn('target', [1, 9, 9, 2], 0.01),
      samples: 4,
    });
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('the same energy with x·tf.sigmoid(x) fails the check', async () => {
    const plain = (t: tf.Tensor) => tf.mul(t, tf.sigmoid(t));
    const r = await checkSecondOrder(boardEnergy(plain), x(), params(), { samples: 4 });
    expect(r.ok).toBe(false);
  });
});

describe('selfCheck', () => {
  it.each<BackendName>(['cpu', 'wasm'])(
    'passes every op at both orders on %s and restores the backend',
    async (b) => {
      await initBackend('cpu');
      const report = await selfCheck(b);
      expect(report.backend).toBe(b);
      const failed = report.rows.filter((r) => !r.ok);
      expect(failed).toEqual([]);
      expect(report.ok).toBe(true);
      const ops = new Set(report.rows.map((r) => r.op));
      for (const op of ['conv2d', 'swish', 'dense']) expect(ops.has(op)).toBe(true);
      expect(report.rows.every((r) => r.ms >= 0 && Number.isFinite(r.maxRelError))).toBe(true);
      expect(currentBackend()?.name).toBe('cpu');
    },
  );
});
