import * as tf from '@tensorflow/tfjs-core';
import { isXError, tensorData } from '@x/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { fromTensorData, toTensorData } from './convert.js';

describe('TensorData conversion', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('round-trips float32, int32 and bool exactly', () => {
    const cases = [
      tensorData('float32', [2, 3], [0.1, -2.5, 3e-8, 1e30, -0, 7]),
      tensorData('int32', [3], [-2147483648, 0, 2147483647]),
      tensorData('bool', [2, 2], [1, 0, 0, 1]),
      tensorData('float32', [], [42]),
    ];
    for (const d of cases) {
      const t = fromTensorData(d);
      expect(t.dtype).toBe(d.dtype);
      expect(t.shape).toEqual(d.shape);
      const back = toTensorData(t);
      expect(back).toEqual(d);
      expect(back.data.constructor).toBe(d.data.constructor);
      t.dispose();
    }
  });

  it('copies: later changes to either side do not leak', () => {
    const d = tensorData('float32', [2], [1, 2]);
    const t = fromTensorData(d);
    d.data[0] = 99;
    expect(Array.from(t.dataSync())).toEqual([1, 2]);
    const back = toTensorData(t);
    back.data[1] = -1;
    expect(Array.from(t.dataSync())).toEqual([1, 2]);
  });

  it('loads uint8 as int32', () => {
    const t = fromTensorData(tensorData('uint8', [3], [0, 128, 255]));
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.dataSync())).toEqual([0, 128, 255]);
  });

  it('rejects float64 unless downcasting is allowed', () => {
    const d = tensorData('float64', [2], [0.1, 1 / 3]);
    let err: unknown;
    try {
      fromTensorData(d);
    } catch (e) {
      err = e;
    }
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
    expect(String(err)).toMatch(/float64.*allowDowncast/);
    const t = fromTensorData(d, { allowDowncast: true });
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.dataSync())).toEqual([Math.fround(0.1), Math.fround(1 / 3)]);
  });

  it('rejects data whose length does not match the shape', () => {
    const bad = { dtype: 'float32' as const, shape: [3], data: new Float32Array(2) };
    expect(() => fromTensorData(bad)).toThrow(/needs 3 elements, got 2/);
  });

  it('toTensorData rejects string tensors', () => {
    expect(() => toTensorData(tf.tensor(['a']))).toThrow(/unsupported tensor dtype string/);
  });
});

describe('fromTensorData on wasm (which copies into its heap itself)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('round-trips every dtype, and later changes to the source do not leak', () => {
    const cases = [
      tensorData('float32', [2], [1.5, -2]),
      tensorData('int32', [2], [7, -8]),
      tensorData('bool', [3], [1, 0, 1]),
    ];
    for (const d of cases) {
      const want = Array.from(d.data);
      const t = fromTensorData(d);
      d.data.fill(0);
      expect(Array.from(t.dataSync())).toEqual(want);
      t.dispose();
    }
  });
});
