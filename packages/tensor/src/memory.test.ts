import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { swish } from './activations.js';
import { Adam } from './adam.js';
import { initBackend, type BackendName } from './backend.js';
import { Ema } from './ema.js';
import { checkSecondOrder } from './gradCheck.js';
import { heNormal } from './init.js';
import { conv2d } from './layers.js';
import { VariableSet } from './variableSet.js';

describe.each<BackendName>(['cpu', 'wasm'])('no tensor leaks on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('a second-order training step with Adam and EMA leaves no tensors behind', async () => {
    const rng = Rng.fromSeed(5);
    const params = new VariableSet();
    params.add('k1', heNormal(rng.stream('k1'), [3, 3, 2, 4], 18));
    params.add('k2', heNormal(rng.stream('k2'), [3, 3, 4, 2], 36));
    const opt = new Adam(params, { learningRate: 1e-2, clipGlobalNorm: 1 });
    const ema = new Ema(params, 0.9);
    const x = tf.tensor(rng.stream('x').fillNormal(new Float32Array(2 * 5 * 5 * 2)), [2, 5, 5, 2]);
    const energy = (xx: tf.Tensor) =>
      tf.sum(
        tf.square(
          conv2d(
            swish(conv2d(xx as tf.Tensor4D, params.get('k1') as tf.Tensor4D)) as tf.Tensor4D,
            params.get('k2') as tf.Tensor4D,
          ),
        ),
      );
    const step = async () => {
      const { value, grads } = params.valueAndGrads(() =>
        tf.tidy(() => tf.sum(tf.square(tf.grad(energy)(x)))),
      );
      await opt.apply(grads);
      ema.update();
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    };
    await step();
    const before = tf.memory().numTensors;
    await step();
    await step();
    ema.swapIn();
    ema.swapOut();
    expect(tf.memory().numTensors).toBe(before);
    expect(opt.step).toBe(3);
  });

  it('checkSecondOrder leaves no tensors behind', async () => {
    const x = tf.tensor([0.5, -1, 2]);
    const a = tf.tensor([0.3, 0.2, -0.4]);
    const before = tf.memory().numTensors;
    await checkSecondOrder((xx, p) => tf.sum(swish(tf.mul(xx, p['a'] as tf.Tensor))), x, { a });
    expect(tf.memory().numTensors).toBe(before);
  });
});
