import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { exp, gelu, sigmoid, softplus, swish, tanh } from './activations.js';
import { initBackend, type BackendName } from './backend.js';
import { checkGradients, checkSecondOrder, type EnergyFn } from './gradCheck.js';

type Act = (x: tf.Tensor) => tf.Tensor;

const GELU_C = Math.sqrt(2 / Math.PI);
const reference: Record<string, (v: number) => number> = {
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  swish: (v) => v / (1 + Math.exp(-v)),
  tanh: (v) => Math.tanh(v),
  gelu: (v) => 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v ** 3))),
  softplus: (v) => Math.log1p(Math.exp(v)),
  exp: (v) => Math.exp(v),
};
const ours: Record<string, Act> = { sigmoid, swish, tanh, gelu, softplus, exp };
const plainTfjs: Record<string, Act> = {
  sigmoid: tf.sigmoid,
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  tanh: tf.tanh,
  exp: tf.exp,
};

function randn(seed: string, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.fromSeed(seed).fillNormal(new Float32Array(n), 0, std), shape);
}

const elementwiseEnergy =
  (act: Act): EnergyFn =>
  (x, p) =>
    tf.sum(act(tf.add(tf.mul(x, p['a'] as tf.Tensor), p['b'] as tf.Tensor)));

describe.each<BackendName>(['cpu', 'wasm'])('activations on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each(Object.keys(ours))('%s forward matches the formula', (name) => {
    const xs = [-6, -2.5, -1, -0.1, 0, 0.3, 1, 2, 5];
    const got = (ours[name] as Act)(tf.tensor(xs)).dataSync();
    xs.forEach((v, i) => {
      const want = (reference[name] as (v: number) => number)(v);
      expect(Math.abs((got[i] as number) - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
    });
  });

  it.each(Object.keys(ours))('%s passes first- and second-order gradient checks', async (name) => {
    const act = ours[name] as Act;
    const params = { a: randn(`${name}a`, [8], 0.8), b: randn(`${name}b`, [8], 0.4) };
    const x = randn(`${name}x`, [8]);
    const first = await checkGradients((p) => tf.sum(tf.square(act(p['x'] as tf.Tensor))), { x });
    expect(first.ok, JSON.stringify(first)).toBe(true);
    const second = await checkSecondOrder(elementwiseEnergy(act), x, params, {
      target: randn('t', [8], 0.3),
    });
    expect(second.ok, JSON.stringify(second)).toBe(true);
    expect(second.checked).toBe(16);
  });

  it.each(Object.keys(plainTfjs))(
    'plain tfjs %s gets second-order gradients wrong (the check catches it)',
    async (name) => {
      const act = plainTfjs[name] as Act;
      const params = { a: randn(`${name}a`, [8], 0.8), b: randn(`${name}b`, [8], 0.4) };
      const x = randn(`${name}x`, [8]);
      let ok: boolean;
      try {
        ok = (await checkSecondOrder(elementwiseEnergy(act), x, params)).ok;
      } catch {
        ok = false;
      }
      expect(ok).toBe(false);
    },
  );
});
