import * as tf from '@tensorflow/tfjs-core';
import { Rng, isXError } from '@x/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from './backend.js';
import { conv2d, dense, groupNorm, matMul, withConvCache } from './layers.js';

function randn(seed: string, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.fromSeed(seed).fillNormal(new Float32Array(n), 0, std), shape);
}

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number;
  expect(d).toBeLessThan(tol);
}

/** Independent reference: a convolution as a sum over kernel taps of slice × weight products. */
function tapSumConv(x: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  const [kh, kw, , cout] = k.shape;
  const ph = (kh - 1) / 2;
  const pw = (kw - 1) / 2;
  const xp = tf.pad(x, [
    [0, 0],
    [ph, ph],
    [pw, pw],
    [0, 0],
  ]);
  let acc: tf.Tensor = tf.zeros([n * h * w, cout]);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const shifted = tf.reshape(tf.slice(xp, [0, i, j, 0], [n, h, w, cin]), [n * h * w, cin]);
      const tap = tf.reshape(tf.slice(k, [i, j, 0, 0], [1, 1, cin, cout]), [cin, cout]);
      acc = tf.add(acc, tf.matMul(shifted, tap));
    }
  }
  return tf.reshape(acc, [n, h, w, cout]);
}

describe.each<BackendName>(['cpu', 'wasm'])('layers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('conv2d matches tf.conv2d for same and valid padding, 1x1, 3x3 and 5x3 kernels', () => {
    const x = randn('x', [2, 6, 5, 3]) as tf.Tensor4D;
    for (const [kh, kw] of [
      [1, 1],
      [3, 3],
      [5, 3],
    ] as const) {
      const k = randn(`k${kh}${kw}`, [kh, kw, 3, 4], 0.3) as tf.Tensor4D;
      expectClose(conv2d(x, k), tf.conv2d(x, k, 1, 'same'));
      expectClose(conv2d(x, k, { padding: 'valid' }), tf.conv2d(x, k, 1, 'valid'));
    }
  });

  it('conv2d second derivatives match an independent tap-sum convolution', () => {
    const x = randn('x2', [2, 9, 9, 3]) as tf.Tensor4D;
    const k = randn('k2', [5, 5, 3, 4], 0.3) as tf.Tensor4D;
    const second = (conv: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const gx = tf.grad((xx: tf.Tensor) =>
          tf.sum(tf.square(conv(xx as tf.Tensor4D, b as tf.Tensor4D))),
        )(a);
        return tf.sum<tf.Scalar>(tf.square(gx));
      })([x, k]);
    const [ax, ak] = second((a, b) => conv2d(a, b));
    const [bx, bk] = second(tapSumConv);
    const rel = (u: tf.Tensor, v: tf.Tensor) =>
      (tf.max(tf.abs(tf.sub(u, v))).dataSync()[0] as number) /
      (tf.max(tf.abs(v)).dataSync()[0] as number);
    expect(rel(ax as tf.Tensor, bx as tf.Tensor)).toBeLessThan(1e-4);
    expect(rel(ak as tf.Tensor, bk as tf.Tensor)).toBeLessThan(1e-4);
  });

  it('circular padding wraps around both spatial axes', () => {
    const x = randn('xc', [1, 4, 5, 2]) as tf.Tensor4D;
    const k = randn('kc', [3, 3, 2, 1], 0.5) as tf.Tensor4D;
    const tiled = tf.tile<tf.Tensor4D>(x, [1, 3, 3, 1]);
    const full = tf.conv2d(tiled, k, 1, 'same');
    const center = tf.slice(full, [0, 4, 5, 0], [1, 4, 5, 1]);
    expectClose(conv2d(x, k, { padding: 'circular' }), center);
  });

  it('conv2d kernel gradients work without Conv2DBackpropFilter', () => {
    const x = randn('xg', [2, 5, 5, 3]) as tf.Tensor4D;
    const k = randn('kg', [3, 3, 3, 2], 0.3) as tf.Tensor4D;
    const ours = tf.grad((kk: tf.Tensor) => tf.sum(tf.square(conv2d(x, kk as tf.Tensor4D))))(k);
    if (backend === 'cpu') {
      const ref = tf.grad((kk: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(x, kk as tf.Tensor4D, 1, 'same'))),
      )(k);
      expectClose(ours, ref, 1e-3);
    } else {
      expect(() =>
        tf.grad((kk: tf.Tensor) => tf.sum(tf.conv2d(x, kk as tf.Tensor4D, 1, 'same')))(k),
      ).toThrow(/Conv2DBackpropFilter/);
      expect(ours.shape).toEqual([3, 3, 3, 2]);
    }
  });

  it('conv2d computes only the gradients asked for: ∇ₓ alone is one convolution, ∇ₓ and ∇_k two', async () => {
    const x = randn('xo', [2, 5, 5, 3]) as tf.Tensor4D;
    const k = randn('ko', [3, 3, 3, 2], 0.3) as tf.Tensor4D;
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(conv2d(a as tf.Tensor4D, b as tf.Tensor4D)));
    const convs = async (run: () => tf.Tensor[]) => {
      const info = await tf.profile(() => {
        run().forEach((t) => t.dispose());
        return [];
      });
      return info.kernels.filter((kn) => kn.name === 'XConv2D').length;
    };
    expect(await convs(() => [tf.grad((a: tf.Tensor) => f(a, k))(x)])).toBe(2);
    expect(await convs(() => tf.grads(f)([x, k]))).toBe(3);
  });

  it('withConvCache gives the same second-order gradients and frees its flipped kernels', () => {
    const x = randn('xw', [2, 7, 7, 3]) as tf.Tensor4D;
    const k1 = randn('kw1', [3, 3, 3, 4], 0.3) as tf.Tensor4D;
    const k2 = randn('kw2', [5, 5, 4, 2], 0.3) as tf.Tensor4D;
    const loss = (a: tf.Tensor, b: tf.Tensor) => {
      const e = (xx: tf.Tensor) =>
        tf.sum(tf.square(conv2d(conv2d(xx as tf.Tensor4D, a as tf.Tensor4D), b as tf.Tensor4D)));
      return tf.add(tf.sum(tf.square(tf.grad(e)(x))), e(tf.mul(x, 0.5)));
    };
    const plain = tf.grads(loss)([k1, k2]);
    const before = tf.memory().numTensors;
    const cached = withConvCache(() => tf.grads(loss)([k1, k2]));
    expect(tf.memory().numTensors).toBe(before + 2);
    cached.forEach((g, i) =>
      expect(Array.from(g.dataSync())).toEqual(Array.from((plain[i] as tf.Tensor).dataSync())),
    );
  });

  it('conv2d rejects mismatched channels and even kernels with same padding', () => {
    const x = randn('x', [1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => conv2d(x, randn('k', [3, 3, 2, 1]) as tf.Tensor4D)).toThrow(
      /kernel expects 2 input channels, input has 3/,
    );
    const err = (() => {
      try {
        conv2d(x, randn('k', [2, 2, 3, 1]) as tf.Tensor4D);
      } catch (e) {
        return e;
      }
    })();
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
  });

  it('matMul matches tf.matMul in value and gradients', () => {
    const a = randn('ma', [5, 4]) as tf.Tensor2D;
    const b = randn('mb', [4, 3]) as tf.Tensor2D;
    expectClose(matMul(a, b), tf.matMul(a, b));
    const loss =
      (mm: (p: tf.Tensor2D, q: tf.Tensor2D) => tf.Tensor) => (p: tf.Tensor, q: tf.Tensor) =>
        tf.sum(tf.square(mm(p as tf.Tensor2D, q as tf.Tensor2D)));
    const ours = tf.grads(loss(matMul))([a, b]);
    const ref = tf.grads(loss(tf.matMul))([a, b]);
    ours.forEach((g, i) => expectClose(g, ref[i] as tf.Tensor, 1e-4));
    expect(() => matMul(a, a)).toThrow(/cannot multiply \[5, 4\] by \[5, 4\]/);
  });

  it('dense is x·w + b', () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const w = tf.tensor2d([
      [1, 0, 2],
      [0, 1, -1],
    ]);
    const b = tf.tensor1d([0.5, 0, -0.5]);
    expect(Array.from(dense(x, w, b).dataSync())).toEqual([1.5, 2, -0.5, 3.5, 4, 1.5]);
    expect(Array.from(dense(x, w).dataSync())).toEqual([1, 2, 0, 3, 4, 2]);
    expect(() => dense(x, tf.zeros<tf.Rank.R2>([3, 1]))).toThrow(
      /input has 2 features, weight expects 3/,
    );
  });

  it('groupNorm normalizes each group to mean 0 and variance 1, then applies gamma and beta', () => {
    const x = tf.add<tf.Tensor4D>(tf.mul(randn('gn', [2, 3, 3, 4]), 3), 5);
    const y = groupNorm(x, 2, undefined, undefined, 0);
    const g = tf.reshape(y, [2, 3, 3, 2, 2]);
    const { mean, variance } = tf.moments(g, [1, 2, 4]);
    expect(tf.max(tf.abs(mean)).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0]).toBeLessThan(1e-4);
    const gamma = tf.tensor1d([1, 2, 3, 4]);
    const beta = tf.tensor1d([0, 1, 0, -1]);
    expectClose(groupNorm(x, 2, gamma, beta, 0), tf.add(tf.mul(y, gamma), beta), 1e-5);
    expect(() => groupNorm(x, 3)).toThrow(/4 channels cannot be split into 3 groups/);
  });
});
