import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { isXError, Rng } from '@x/core';
import { afterEach, describe, expect, it } from 'vitest';
import { swish } from './activations.js';
import { initBackend } from './backend.js';
import { conv2d, matMul } from './layers.js';
import { selfCheck } from './selfCheck.js';

function randn(seed: string, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.fromSeed(seed).fillNormal(new Float32Array(n), 0, std), shape);
}

/** SHA-256 of the float32 bytes of conv2d and matMul values and first/second-order gradients. */
async function opsDigest(): Promise<Record<string, string>> {
  const out: Record<string, tf.Tensor> = tf.tidy(() => {
    const x = randn('x', [8, 9, 9, 32], 0.5) as tf.Tensor4D;
    const k1 = randn('k1', [5, 5, 32, 48], 0.05) as tf.Tensor4D;
    const k2 = randn('k2', [3, 3, 48, 9], 0.05) as tf.Tensor4D;
    const a = randn('a', [300, 257]) as tf.Tensor2D;
    const b = randn('b', [257, 130]) as tf.Tensor2D;
    const energy = (xx: tf.Tensor, ks: tf.Tensor[]) =>
      tf.sum(
        tf.square(
          conv2d(
            swish(conv2d(xx as tf.Tensor4D, ks[0] as tf.Tensor4D)) as tf.Tensor4D,
            ks[1] as tf.Tensor4D,
          ),
        ),
      );
    const [gx, gk] = tf.grads((xx: tf.Tensor, kk: tf.Tensor) =>
      tf.sum(tf.square(conv2d(xx as tf.Tensor4D, kk as tf.Tensor4D))),
    )([x, k1]);
    const second = tf.grads((...ks: tf.Tensor[]) =>
      tf.mean(tf.square(tf.grad((xx: tf.Tensor) => energy(xx, ks))(x))),
    )([k1, k2]);
    const [ga, gb] = tf.grads((aa: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.square(matMul(aa as tf.Tensor2D, bb as tf.Tensor2D))),
    )([a, b]);
    return {
      conv: conv2d(x, k1),
      convGradX: gx as tf.Tensor,
      convGradK: gk as tf.Tensor,
      secondOrder1: second[0] as tf.Tensor,
      secondOrder2: second[1] as tf.Tensor,
      matMul: tf.matMul(a, b),
      matMulGradA: ga as tf.Tensor,
      matMulGradB: gb as tf.Tensor,
    };
  });
  const digests: Record<string, string> = {};
  for (const [name, t] of Object.entries(out)) {
    const data = (await t.data()) as Float32Array;
    digests[name] = createHash('sha256')
      .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      .digest('hex');
  }
  tf.dispose(Object.values(out));
  return digests;
}

describe('wasm threads', () => {
  const env = process.env['X_THREADS'];
  afterEach(() => {
    if (env === undefined) delete process.env['X_THREADS'];
    else process.env['X_THREADS'] = env;
  });

  it('results are bitwise identical at 1 and 2 threads (conv2d fwd/bwd, second order, matMul)', async () => {
    const one = await initBackend({ backend: 'wasm', threads: 1 });
    expect(one.threads).toBe(1);
    const d1 = await opsDigest();
    const two = await initBackend({ backend: 'wasm', threads: 2 });
    expect(two.threads).toBe(2);
    const d2 = await opsDigest();
    expect(d2).toEqual(d1);
  });

  it.each([1, 2])(
    'every training op passes the first- and second-order check at %i threads',
    async (threads) => {
      const info = await initBackend({ backend: 'wasm', threads });
      expect(info.threads).toBe(threads);
      const report = await selfCheck();
      expect(report.rows.filter((r) => !r.ok)).toEqual([]);
      expect(report.rows.length).toBeGreaterThan(10);
    },
  );

  it('takes the thread count from X_THREADS and refuses a bad one', async () => {
    process.env['X_THREADS'] = '1';
    expect((await initBackend('wasm')).threads).toBe(1);
    process.env['X_THREADS'] = 'two';
    const err = await initBackend('wasm').catch((e: unknown) => e);
    expect(isXError(err) && err.code).toBe('INVALID_INPUT');
    expect((err as Error).message).toMatch(/X_THREADS: expected a positive integer, got 'two'/);
    const zero = await initBackend({ backend: 'wasm', threads: 0 }).catch((e: unknown) => e);
    expect(isXError(zero) && zero.code).toBe('INVALID_INPUT');
  });

  it('refuses to change the thread count while tensors live on the wasm backend', async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
    const t = tf.ones([2]);
    const err = await initBackend({ backend: 'wasm', threads: 2 }).catch((e: unknown) => e);
    expect(isXError(err) && err.code).toBe('INVALID_INPUT');
    expect((err as Error).message).toMatch(/from 1 to 2 threads while 1 tensors live/);
    t.dispose();
    expect((await initBackend({ backend: 'wasm', threads: 2 })).threads).toBe(2);
  });
});
