import * as tf from '@tensorflow/tfjs-core';
import { Rng, isXError, tensorData } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { constant, glorotUniform, heNormal, zeros } from './init.js';
import { VariableSet } from './variableSet.js';

function makeParams(seed = 1): VariableSet {
  const rng = Rng.fromSeed(seed);
  const p = new VariableSet();
  p.add('stem/kernel', heNormal(rng.stream('init', 'stem/kernel'), [3, 3, 2, 4], 18));
  p.add('head/bias', zeros([4]));
  p.add('norm/count', constant([1], 3), false);
  return p;
}

describe('VariableSet', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  describeComponentContract('VariableSet', {
    create: () => {
      const p = new VariableSet();
      p.add('kernel', heNormal(Rng.fromSeed(3), [3, 3, 2, 4], 18));
      p.add('bias', zeros([4]));
      return p;
    },
    mutate: (c) => {
      const v = (c as VariableSet).get('bias');
      v.assign(tf.add(v, 0.5));
    },
    invalid: [
      {
        name: 'missing variable',
        make: (s) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'bias')),
        path: 'bias',
      },
      { name: 'extra variable', make: (s) => ({ ...s, 'extra/w': zeros([1]) }), path: 'extra/w' },
    ],
  });

  it('lists names sorted and trainable variables in that order', () => {
    const p = makeParams();
    expect(p.names()).toEqual(['head/bias', 'norm/count', 'stem/kernel']);
    expect(p.trainableNames()).toEqual(['head/bias', 'stem/kernel']);
    expect(p.trainable().map((v) => v.shape)).toEqual([[4], [3, 3, 2, 4]]);
    expect(p.size()).toBe(4 + 1 + 72);
    expect(Object.keys(p.record())).toEqual(p.names());
  });

  it('names the missing variable and rejects duplicates', () => {
    const p = makeParams();
    let err: unknown;
    try {
      p.get('stem/bias');
    } catch (e) {
      err = e;
    }
    expect(isXError(err, 'NOT_FOUND')).toBe(true);
    expect(String(err)).toContain("'stem/bias'");
    expect(() => p.add('head/bias', zeros([4]))).toThrow(/duplicate variable 'head\/bias'/);
    expect(() => p.add('i', tensorData('int32', [1], [1]))).toThrow(/must be float32/);
  });

  it('add copies its initial tensor', () => {
    const p = new VariableSet();
    const t = tf.tensor([1, 2]);
    p.add('a', t);
    t.dispose();
    expect(Array.from(p.get('a').dataSync())).toEqual([1, 2]);
    p.dispose();
    expect(p.names()).toEqual([]);
  });

  it('state is flat, keyed by the full names, and round-trips names with slashes', async () => {
    const a = makeParams(1);
    const b = makeParams(2);
    const s = await a.getState();
    expect(Object.keys(s).sort()).toEqual(['head/bias', 'norm/count', 'stem/kernel']);
    expect(s['stem/kernel']?.shape).toEqual([3, 3, 2, 4]);
    expect(await b.getState()).not.toEqual(s);
    b.setState(s);
    expect(await b.getState()).toEqual(s);
    const bad = { ...s, 'stem/kernel': zeros([3, 3, 2, 5]) };
    expect(() => b.setState(bad)).toThrow(
      /stem\/kernel: expected shape \[3, 3, 2, 4\], got \[3, 3, 2, 5\]/,
    );
  });

  it('valueAndGrads keys gradients by variable name', () => {
    const p = makeParams();
    const { value, grads } = p.valueAndGrads(() =>
      tf.sum(tf.square(tf.add(p.get('head/bias'), 1))),
    );
    expect(value.dataSync()[0]).toBe(4);
    expect(Object.keys(grads)).toEqual(['head/bias']);
    expect(Array.from(grads['head/bias']?.dataSync() ?? [])).toEqual([2, 2, 2, 2]);
  });
});

describe('initializers', () => {
  it('draw the same values from the same named stream, in any order', () => {
    const root = Rng.fromSeed(7);
    const b1 = heNormal(root.stream('init', 'b'), [50], 10);
    const a1 = heNormal(root.stream('init', 'a'), [50], 10);
    const a2 = heNormal(Rng.fromSeed(7).stream('init', 'a'), [50], 10);
    expect(a2).toEqual(a1);
    expect(b1.data).not.toEqual(a1.data);
  });

  it('heNormal has std √(2/fanIn); glorotUniform stays within ±√(6/(in+out))', () => {
    const h = heNormal(Rng.fromSeed(1), [100, 100], 50);
    const mean = h.data.reduce((a, b) => a + b, 0) / h.data.length;
    const std = Math.sqrt(h.data.reduce((a, b) => a + (b - mean) ** 2, 0) / h.data.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(std).toBeCloseTo(Math.sqrt(2 / 50), 2);
    const g = glorotUniform(Rng.fromSeed(2), [64, 32], 64, 32);
    const limit = Math.sqrt(6 / 96);
    expect(Math.max(...g.data)).toBeLessThanOrEqual(limit);
    expect(Math.min(...g.data)).toBeGreaterThanOrEqual(-limit);
    expect(Math.max(...g.data)).toBeGreaterThan(0.9 * limit);
    expect(g.dtype).toBe('float32');
    expect(g.shape).toEqual([64, 32]);
  });

  it('reject bad shapes and fans', () => {
    expect(() => heNormal(Rng.fromSeed(1), [2, -1], 2)).toThrow(/invalid shape/);
    expect(() => heNormal(Rng.fromSeed(1), [2], 0)).toThrow(/fanIn must be positive/);
  });
});
