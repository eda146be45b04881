import * as tf from '@tensorflow/tfjs-core';
import { describeComponentContract } from '@x/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { Ema } from './ema.js';
import { VariableSet } from './variableSet.js';

function makeParams(): VariableSet {
  const p = new VariableSet();
  p.add('w', tf.tensor([1, 2]));
  p.add('b', tf.tensor([0]));
  return p;
}

function values(p: VariableSet, name: string): number[] {
  return Array.from(p.get(name).dataSync());
}

describe('Ema', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const paramsOf = new WeakMap<object, VariableSet>();
  describeComponentContract('Ema', {
    create: () => {
      const p = makeParams();
      const ema = new Ema(p, 0.9);
      paramsOf.set(ema, p);
      return ema;
    },
    mutate: (c) => {
      paramsOf
        .get(c)
        ?.get('w')
        .assign(tf.tensor([5, -5]));
      (c as Ema).update();
    },
  });

  it('tracks decay·shadow + (1−decay)·param', async () => {
    const p = makeParams();
    const ema = new Ema(p, 0.5);
    p.get('w').assign(tf.tensor([3, 6]));
    ema.update();
    p.get('w').assign(tf.tensor([5, 10]));
    ema.update();
    expect(Array.from((await ema.getState())['w']?.data ?? [])).toEqual([3.5, 7]);
  });

  it('swapIn evaluates with EMA weights and swapOut restores the trained ones', () => {
    const p = makeParams();
    const ema = new Ema(p, 0.5);
    p.get('w').assign(tf.tensor([3, 4]));
    ema.update();
    ema.swapIn();
    expect(values(p, 'w')).toEqual([2, 3]);
    expect(() => ema.swapIn()).toThrow(/twice/);
    ema.swapOut();
    expect(values(p, 'w')).toEqual([3, 4]);
    expect(() => ema.swapOut()).toThrow(/without swapIn/);
    const target = makeParams();
    ema.copyTo(target);
    expect(values(target, 'w')).toEqual([2, 3]);
  });
});
