import * as tf from '@tensorflow/tfjs-core';

type Unary = (x: tf.Tensor) => tf.Tensor;

/**
 * Wraps an elementwise function with a custom gradient that recomputes f'(x) from the saved
 * input, using only ops whose first derivative tfjs gets right, so gradients of gradients
 * (double backprop) are correct.
 */
function withSafeGrad(forward: Unary, derivative: Unary): Unary {
  const op: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
    (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const save = args[1] as tf.GradSaveFunc;
      save([x]);
      return {
        value: forward(x),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.mul(dy, derivative(saved[0] as tf.Tensor)),
      };
    },
  );
  return (x) => op(x);
}

const sigmoidPrime: Unary = (x) => {
  const s = tf.sigmoid(x);
  return tf.mul(s, tf.sub(1, s));
};

const swishPrime: Unary = (x) => {
  const s = tf.sigmoid(x);
  return tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s))));
};

const tanhPrime: Unary = (x) => tf.sub(1, tf.square(tf.tanh(x)));

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

const geluInner: Unary = (x) => tf.mul(GELU_C, tf.add(x, tf.mul(GELU_A, tf.mul(x, tf.square(x)))));

const geluForward: Unary = (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(geluInner(x))));

const geluPrime: Unary = (x) => {
  const t = tf.tanh(geluInner(x));
  const du = tf.mul(GELU_C, tf.add(1, tf.mul(3 * GELU_A, tf.square(x))));
  return tf.add(
    tf.mul(0.5, tf.add(1, t)),
    tf.mul(tf.mul(0.5, x), tf.mul(tf.sub(1, tf.square(t)), du)),
  );
};

const sigmoidOp = withSafeGrad(tf.sigmoid, sigmoidPrime);
const swishOp = withSafeGrad((x) => tf.mul(x, tf.sigmoid(x)), swishPrime);
const tanhOp = withSafeGrad(tf.tanh, tanhPrime);
const geluOp = withSafeGrad(geluForward, geluPrime);
const softplusOp = withSafeGrad(tf.softplus, tf.sigmoid);
const expOp = withSafeGrad(tf.exp, tf.exp);

/** Logistic sigmoid 1/(1+e^-x), safe for double backprop (unlike `tf.sigmoid`). */
export function sigmoid(x: tf.Tensor): tf.Tensor {
  return sigmoidOp(x);
}

/** Swish / SiLU x·sigmoid(x), safe for double backprop. */
export function swish(x: tf.Tensor): tf.Tensor {
  return swishOp(x);
}

/** Hyperbolic tangent, safe for double backprop (unlike `tf.tanh`). */
export function tanh(x: tf.Tensor): tf.Tensor {
  return tanhOp(x);
}

/** GELU, tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³))), safe for double backprop. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return geluOp(x);
}

/** Softplus log(1+e^x), safe for double backprop. */
export function softplus(x: tf.Tensor): tf.Tensor {
  return softplusOp(x);
}

/** e^x, safe for double backprop (unlike `tf.exp`). */
export function exp(x: tf.Tensor): tf.Tensor {
  return expOp(x);
}
