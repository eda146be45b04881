import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { Adam, VariableSet, conv2d, heNormal, initBackend, swish, zeros } from '@x/tensor';

const info = await initBackend(); // 'auto': tensorflow > wasm > cpu; info.name is the choice
const rng = Rng.fromSeed(0);
const params = new VariableSet();
params.add('conv/kernel', heNormal(rng.stream('init', 'conv/kernel'), [3, 3, 1, 8], 9));
params.add('conv/bias', zeros([8]));
const opt = new Adam(params, { learningRate: 1e-3, clipGlobalNorm: 1 });
const energy = (x: tf.Tensor) =>
  tf.sum(
    tf.square(
      swish(
        tf.add(
          conv2d(x as tf.Tensor4D, params.get('conv/kernel') as tf.Tensor4D),
          params.get('conv/bias'),
        ),
      ),
    ),
  );
const { value, grads } = params.valueAndGrads(() =>
  tf.tidy(() => tf.sum(tf.square(tf.grad(energy)(tf.ones([4, 9, 9, 1]))))),
);
await opt.apply(grads); // the gradient of a loss on ∇ₓE, as IRED trains
console.log(`backend ${info.name}: loss ${value.dataSync()[0]}`);
