import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { Adam, initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { DtModel } from './model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const opts = { inputs: 5, hidden: [8, 8], logEta0: Math.log(0.02), range: 4 };
const input = Float64Array.from([0.3, -0.2, 0.5, 0.1, 1]);

describe('DtModel', () => {
  it('starts as the naive rule: raw = ln η0 for any input', () => {
    const m = new DtModel(opts, Rng.fromSeed(1));
    expect(m.raw(input)).toBeCloseTo(Math.log(0.02), 12);
    m.dispose();
  });

  it('a surrogate step with a positive coefficient lowers raw, a negative one raises it', async () => {
    for (const sign of [1, -1]) {
      const m = new DtModel(opts, Rng.fromSeed(2));
      const opt = new Adam(m.params, { learningRate: 1e-2 });
      const before = m.raw(input);
      for (let i = 0; i < 5; i++) await m.update(opt, [input], [sign]);
      expect(Math.sign(m.raw(input) - before)).toBe(-sign);
      m.dispose();
    }
  });

  it('the float64 mirror matches the tfjs forward pass after training', async () => {
    const m = new DtModel(opts, Rng.fromSeed(3));
    const opt = new Adam(m.params, { learningRate: 5e-2 });
    for (let i = 0; i < 3; i++) await m.update(opt, [input, input.map((v) => -v)], [1, -0.5]);
    const w = m.params.record();
    const y = tf.tidy(() => {
      let h: tf.Tensor2D = tf.tensor2d([Array.from(input)]);
      h = tf.tanh(tf.add(tf.matMul(h, w['l0/w'] as tf.Tensor2D), w['l0/b']!)) as tf.Tensor2D;
      h = tf.tanh(tf.add(tf.matMul(h, w['l1/w'] as tf.Tensor2D), w['l1/b']!)) as tf.Tensor2D;
      h = tf.add(tf.matMul(h, w['l2/w'] as tf.Tensor2D), w['l2/b']!);
      return h.dataSync()[0]!;
    });
    expect(m.raw(input)).toBeCloseTo(Math.log(0.02) + 4 * Math.tanh(y / 4), 5);
    m.dispose();
  });

  describeComponentContract('DtModel', {
    create: () => new DtModel(opts, Rng.fromSeed(4)),
    mutate: async (c) => {
      const m = c as DtModel;
      await m.update(new Adam(m.params, { learningRate: 1e-2 }), [input], [1]);
    },
  });
});
