import { describe, expect, it } from 'vitest';
import { ValueComponent } from './component.js';
import { stateDigest } from './digest.js';
import { XError } from './errors.js';
import {
  assertStateMatches,
  cloneState,
  sharedTensorData,
  statesEqual,
  tensorData,
  walkState,
  type State,
} from './state.js';
import { describeComponentContract } from './testing.js';

const sample = (): State => ({
  step: 3,
  name: 'run',
  flags: [true, null],
  model: {
    w: tensorData('float32', [2, 2], [1, 2, 3, 4]),
    b: tensorData('float64', [2], [0.5, -0.5]),
  },
  counts: tensorData('int32', [3], [1, 2, 3]),
  mask: tensorData('bool', [2], [1, 0]),
  bytes: tensorData('uint8', [1], [255]),
});

describeComponentContract('ValueComponent', {
  create: () =>
    new ValueComponent<{ step: number; w: ReturnType<typeof tensorData<'float32'>> }>({
      step: 0,
      w: tensorData('float32', [2], [0, 0]),
    }),
  mutate: (c) => {
    const v = c as ValueComponent<{ step: number; w: ReturnType<typeof tensorData<'float32'>> }>;
    v.value = { step: v.value.step + 1, w: tensorData('float32', [2], [v.value.step + 1, 2]) };
  },
});

describe('state trees', () => {
  it('sharedTensorData equals tensorData over shared memory, with the same checks', () => {
    for (const dtype of ['float32', 'float64', 'int32', 'uint8', 'bool'] as const) {
      const s = sharedTensorData(dtype, [3], [1, 0, 1]);
      expect(s.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(s.data.constructor).toBe(tensorData(dtype, [1]).data.constructor);
      expect(statesEqual(s, tensorData(dtype, [3], [1, 0, 1]))).toBe(true);
      expect(stateDigest(s)).toBe(stateDigest(tensorData(dtype, [3], [1, 0, 1])));
    }
    expect(sharedTensorData('float32', [2, 2]).data).toEqual(new Float32Array(4));
    expect(() => sharedTensorData('float32', [2], [1, 2, 3])).toThrow(/needs 2 elements, got 3/);
  });

  it('clones deeply, including typed arrays', () => {
    const a = sample();
    const b = cloneState(a);
    expect(statesEqual(a, b)).toBe(true);
    (b as unknown as { model: { w: { data: Float32Array } } }).model.w.data[0] = 9;
    expect(statesEqual(a, b)).toBe(false);
  });

  it('copies a __proto__ key as an own property', () => {
    const a = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as State;
    const b = cloneState(a) as Record<string, unknown>;
    expect(Object.getPrototypeOf(b)).toBe(Object.prototype);
    expect(Object.keys(b).sort()).toEqual(['__proto__', 'y']);
    expect(statesEqual(a, b as State)).toBe(true);
  });

  it('walks leaves in sorted path order', () => {
    const paths = [...walkState(sample())].map((l) => l.path);
    expect(paths).toEqual([
      'bytes',
      'counts',
      'flags/0',
      'flags/1',
      'mask',
      'model/b',
      'model/w',
      'name',
      'step',
    ]);
  });

  it('names the leaf path of a mismatch', () => {
    const bad = cloneState(sample()) as Record<string, State>;
    (bad['model'] as Record<string, State>)['w'] = tensorData('float32', [4], [1, 2, 3, 4]);
    expect(() => assertStateMatches(sample(), bad)).toThrow(
      /model\/w: expected shape \[2, 2\], got \[4\]/,
    );
    (bad['model'] as Record<string, State>)['w'] = tensorData('float64', [2, 2], [1, 2, 3, 4]);
    expect(() => assertStateMatches(sample(), bad)).toThrow(
      /model\/w: expected dtype float32, got float64/,
    );
    delete (bad['model'] as Record<string, State>)['b'];
    expect(() => assertStateMatches(sample(), bad, { source: 'ckpt' })).toThrow(
      /^ckpt: model\/b: missing/,
    );
    expect(() => assertStateMatches(sample(), { ...(sample() as object), extra: 1 })).toThrow(
      /extra: unexpected key/,
    );
  });

  it('rejects tensors whose data does not fit the shape', () => {
    expect(() => tensorData('float32', [2, 3], [1, 2])).toThrow(XError);
    expect(() => tensorData('float32', [-1], [])).toThrow(/invalid tensor shape/);
  });
});

describe('stateDigest', () => {
  it('is independent of key order and equal for equal states', () => {
    const a = { x: 1, y: tensorData('float32', [1], [2]) };
    const b = { y: tensorData('float32', [1], [2]), x: 1 };
    expect(stateDigest(a)).toBe(stateDigest(b));
    expect(stateDigest(sample())).toBe(stateDigest(cloneState(sample())));
  });

  it('distinguishes dtype, shape, values and structure', () => {
    const base = stateDigest({ t: tensorData('float32', [2], [1, 2]) });
    expect(stateDigest({ t: tensorData('float32', [1, 2], [1, 2]) })).not.toBe(base);
    expect(stateDigest({ t: tensorData('int32', [2], [1, 2]) })).not.toBe(base);
    expect(stateDigest({ t: tensorData('float32', [2], [1, 3]) })).not.toBe(base);
    expect(stateDigest({ a: 1 })).not.toBe(stateDigest({ a: '1' }));
    expect(stateDigest([1, [2]])).not.toBe(stateDigest([[1], 2]));
    expect(stateDigest({ a: 'b', c: '' })).not.toBe(stateDigest({ a: '', bc: '' }));
  });

  it('is pinned (the canonical encoding is part of the contract)', () => {
    expect(stateDigest({ step: 1, w: tensorData('float32', [2], [1, 2]) })).toBe(
      '8f00e51bd62c51faa11afe90fcadbaea84b9dfa462652244d6ea3821d29bc2e2',
    );
  });
});

describeComponentContract('ValueComponent with slashed keys', {
  create: () =>
    new ValueComponent<Record<string, ReturnType<typeof tensorData<'float32'>>>>({
      'stem/kernel': tensorData('float32', [2], [0, 0]),
    }),
  mutate: (c) => {
    const v = c as ValueComponent<Record<string, ReturnType<typeof tensorData<'float32'>>>>;
    const k = v.value['stem/kernel'];
    v.value = { 'stem/kernel': tensorData('float32', [2], [(k?.data[0] ?? 0) + 1, 2]) };
  },
});
