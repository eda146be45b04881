import * as tf from '@tensorflow/tfjs-core';
import { isImmutable, releaseSnapshot } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam } from './adam.js';
import { initBackend } from './backend.js';
import { snapshotTensorData } from './convert.js';
import { VariableSet } from './variableSet.js';

describe('snapshotTensorData on cpu', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it("hands out the tensor's own storage, marked immutable, which later assigns never touch", async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const s = await snapshotTensorData(v);
    expect(s).toEqual({ dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 3]) });
    expect(s.data).toBe(v.dataSync());
    expect(isImmutable(s.data)).toBe(true);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(s.data)).toEqual([1, 2, 3]);
    expect(Array.from((await snapshotTensorData(v)).data)).toEqual([7, 8, 9]);
    v.dispose();
  });

  it('keeps int32 and bool dtypes and shapes', async () => {
    const i = tf.tensor2d([[1, -2]], [1, 2], 'int32');
    const b = tf.tensor1d([1, 0, 1], 'bool');
    expect(await snapshotTensorData(i)).toEqual({
      dtype: 'int32',
      shape: [1, 2],
      data: new Int32Array([1, -2]),
    });
    expect(await snapshotTensorData(b)).toEqual({
      dtype: 'bool',
      shape: [3],
      data: new Uint8Array([1, 0, 1]),
    });
    i.dispose();
    b.dispose();
  });
});

describe.each([2, 1])('snapshotTensorData on wasm with %i thread(s)', (threads) => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads });
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it(
    threads > 1
      ? 'is a view of the shared heap whose storage stays pinned until releaseSnapshot'
      : 'is a view of the heap, valid until the tensor changes (the heap is not shared)',
    async () => {
      const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
      const before = tf.memory().numTensors;
      const v = tf.tidy(() => tf.variable(tf.tensor1d([1.5, -2, 3])));
      // Taken inside a scope (as within a tidy() of a training step), the pin outlives it.
      tf.engine().startScope();
      const pending = snapshotTensorData(v);
      tf.engine().endScope();
      const s = await pending;
      expect(Array.from(s.data)).toEqual([1.5, -2, 3]);
      expect(s.data.buffer).toBe(heap().buffer);
      expect(s.data.buffer instanceof SharedArrayBuffer).toBe(threads > 1);
      expect(isImmutable(s.data)).toBe(threads > 1);
      // A training step: the variable gets new storage and drops its old one; fresh tensors of
      // the same size would reuse that memory if nothing held it.
      tf.tidy(() => v.assign(tf.tensor1d([7, 8, 9])));
      const others = Array.from({ length: 8 }, (_, i) => tf.fill([3], 100 + i));
      const pins = threads > 1 ? 1 : 0;
      expect(tf.memory().numTensors).toBe(before + 1 + 8 + pins);
      if (threads > 1) expect(Array.from(s.data)).toEqual([1.5, -2, 3]);
      releaseSnapshot({ s });
      expect(isImmutable(s.data)).toBe(false);
      expect(tf.memory().numTensors).toBe(before + 1 + 8);
      releaseSnapshot({ s }); // a second release is a no-op
      others.forEach((t) => t.dispose());
      v.dispose();
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it("a VariableSet's and Adam's snapshots equal their getState() after training steps", async () => {
    const params = new VariableSet();
    tf.tidy(() => {
      params.add('w', tf.randomNormal([64, 8], 0, 1, 'float32', 3));
      params.add('b', tf.zeros([8]));
    });
    const opt = new Adam(params, { learningRate: 0.01 });
    for (let k = 0; k < 3; k++) {
      const { value, grads } = params.valueAndGrads(() =>
        tf.sum(tf.square(tf.add(params.get('w'), params.get('b')))),
      );
      await opt.apply(grads);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const snaps = [await params.snapshot(), await opt.snapshot()];
    expect(snaps[0]).toEqual(await params.getState());
    expect(snaps[1]).toEqual(await opt.getState());
    snaps.forEach((s) => releaseSnapshot(s));
    opt.dispose();
    params.dispose();
  });
});

describe('VariableSet snapshot on cpu', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  describeComponentContract('VariableSet (snapshot after Adam steps)', {
    create: () => {
      const params = new VariableSet();
      params.add(
        'w',
        tf.tensor2d([
          [0.5, -1],
          [2, 0.25],
        ]),
      );
      return params;
    },
    mutate: async (c) => {
      const params = c as VariableSet;
      const opt = new Adam(params, { learningRate: 0.1 });
      const { grads } = params.valueAndGrads(() => tf.sum(tf.square(params.get('w'))));
      await opt.apply(grads);
    },
  });
});
