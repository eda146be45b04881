import * as tf from '@tensorflow/tfjs-core';
import { isXError } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, clipByGlobalNorm, globalNorm } from './adam.js';
import { initBackend } from './backend.js';
import { VariableSet } from './variableSet.js';

const P0 = { a: [0.5, -1, 2], b: [0.25] };
const GRADS = [
  { a: [0.1, -0.2, 0.3], b: [1] },
  { a: [-0.05, 0.4, 0.3], b: [-2] },
  { a: [0.2, 0, -0.1], b: [0.5] },
];

function makeParams(): VariableSet {
  const p = new VariableSet();
  p.add('a', tf.tensor(P0.a));
  p.add('b', tf.tensor(P0.b));
  p.add('frozen', tf.tensor([9]), false);
  return p;
}

function toTensors(g: Record<string, number[]>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.tensor(v)]));
}

/** Straightforward float64 Adam (PyTorch formula) with optional global-norm clipping. */
function referenceAdam(steps: Record<string, number[]>[], lr: number, clip?: number) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const p: Record<string, number[]> = { a: [...P0.a], b: [...P0.b] };
  const m: Record<string, number[]> = { a: [0, 0, 0], b: [0] };
  const v: Record<string, number[]> = { a: [0, 0, 0], b: [0] };
  const norms: number[] = [];
  steps.forEach((g, i) => {
    const t = i + 1;
    const norm = Math.sqrt(
      Object.values(g)
        .flat()
        .reduce((s, x) => s + x * x, 0),
    );
    norms.push(norm);
    const scale = clip !== undefined && norm > clip ? clip / norm : 1;
    for (const k of Object.keys(g)) {
      (g[k] as number[]).forEach((gi0, j) => {
        const gi = gi0 * scale;
        const mk = m[k] as number[];
        const vk = v[k] as number[];
        mk[j] = b1 * (mk[j] as number) + (1 - b1) * gi;
        vk[j] = b2 * (vk[j] as number) + (1 - b2) * gi * gi;
        const mh = mk[j] / (1 - b1 ** t);
        const vh = vk[j] / (1 - b2 ** t);
        (p[k] as number[])[j] =
          ((p[k] as number[])[j] as number) - (lr * mh) / (Math.sqrt(vh) + eps);
      });
    }
  });
  return { p, m, v, norms };
}

function expectNear(got: ArrayLike<number>, want: number[], tol: number): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) =>
    expect(Math.abs((got[i] as number) - w)).toBeLessThan(tol * Math.max(1, Math.abs(w))),
  );
}

describe('Adam', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  describeComponentContract('Adam', {
    create: () => new Adam(makeParams(), { learningRate: 0.01 }),
    mutate: async (c) =>
      void (await (c as Adam).apply(toTensors(GRADS[0] as Record<string, number[]>))),
  });

  it('first step moves each parameter by lr against the sign of its gradient (hand computed)', async () => {
    const params = makeParams();
    const opt = new Adam(params, { learningRate: 0.1 });
    const norm = await opt.apply(toTensors({ a: [0.1, -0.2, 0.3], b: [1] }));
    expect(norm).toBeCloseTo(Math.sqrt(0.01 + 0.04 + 0.09 + 1), 6);
    expect(opt.step).toBe(1);
    expectNear(params.get('a').dataSync(), [0.4, -0.9, 1.9], 1e-6);
    expectNear(params.get('b').dataSync(), [0.15], 1e-6);
    expect(Array.from(params.get('frozen').dataSync())).toEqual([9]);
    const s = await opt.getState();
    expectNear(s.m['b']?.data ?? [], [0.1], 1e-7);
    expectNear(s.v['b']?.data ?? [], [0.001], 1e-7);
  });

  it('matches a float64 reference implementation over several steps', async () => {
    const params = makeParams();
    const opt = new Adam(params, { learningRate: 0.05 });
    const norms: number[] = [];
    for (const g of GRADS) norms.push(await opt.apply(toTensors(g)));
    const ref = referenceAdam(GRADS, 0.05);
    expectNear(norms, ref.norms, 1e-6);
    expectNear(params.get('a').dataSync(), ref.p['a'] as number[], 1e-5);
    expectNear(params.get('b').dataSync(), ref.p['b'] as number[], 1e-5);
    const s = await opt.getState();
    expect(s.step).toBe(3);
    expectNear(s.m['a']?.data ?? [], ref.m['a'] as number[], 1e-6);
    expectNear(s.v['a']?.data ?? [], ref.v['a'] as number[], 1e-6);
  });

  it('clips by global norm, returning the norm before clipping', async () => {
    const params = makeParams();
    const opt = new Adam(params, { learningRate: 0.05, clipGlobalNorm: 0.5 });
    const norms: number[] = [];
    for (const g of GRADS) norms.push(await opt.apply(toTensors(g)));
    const ref = referenceAdam(GRADS, 0.05, 0.5);
    expectNear(norms, ref.norms, 1e-6);
    expectNear(params.get('a').dataSync(), ref.p['a'] as number[], 1e-5);
    expectNear((await opt.getState()).m['b']?.data ?? [], ref.m['b'] as number[], 1e-6);
  });

  it('is deterministic: two runs from the same state give bitwise-equal parameters', async () => {
    const run = async () => {
      const params = makeParams();
      const opt = new Adam(params, { learningRate: 0.05 });
      for (const g of GRADS) await opt.apply(toTensors(g));
      return params.getState();
    };
    expect(await run()).toEqual(await run());
  });

  it('resumes exactly from a saved state', async () => {
    const a = makeParams();
    const optA = new Adam(a, { learningRate: 0.05 });
    await optA.apply(toTensors(GRADS[0] as Record<string, number[]>));
    const b = makeParams();
    b.setState(await a.getState());
    const optB = new Adam(b, { learningRate: 0.05 });
    optB.setState(await optA.getState());
    for (const g of GRADS.slice(1)) {
      await optA.apply(toTensors(g));
      await optB.apply(toTensors(g));
    }
    expect(await b.getState()).toEqual(await a.getState());
  });

  it('rejects unknown or frozen names, wrong shapes and non-finite gradients without changing state', async () => {
    const params = makeParams();
    const opt = new Adam(params, { learningRate: 0.1 });
    await expect(opt.apply({ frozen: tf.tensor([1]) })).rejects.toThrow(
      /'frozen', which is not a trainable variable/,
    );
    await expect(opt.apply({ a: tf.tensor([1, 2]) })).rejects.toThrow(
      /'a' has shape \[2\], variable has \[3\]/,
    );
    const err = await opt.apply({ a: tf.tensor([NaN, 0, 0]) }).catch((e: unknown) => e);
    expect(isXError(err, 'NUMERICAL')).toBe(true);
    expect(opt.step).toBe(0);
    expect(Array.from(params.get('a').dataSync())).toEqual(P0.a);
    expect(() => new Adam(params, { learningRate: -1 })).toThrow(/learningRate/);
  });

  it('clipByGlobalNorm scales only when the norm exceeds the limit', async () => {
    const g = toTensors({ a: [3], b: [4] });
    expect(await globalNorm(g)).toBeCloseTo(5, 6);
    const clipped = await clipByGlobalNorm(g, 1);
    expect(clipped.norm).toBeCloseTo(5, 6);
    expect(clipped.grads['a']?.dataSync()[0]).toBeCloseTo(0.6, 6);
    expect((await clipByGlobalNorm(g, 10)).grads['b']?.dataSync()[0]).toBe(4);
  });
});
