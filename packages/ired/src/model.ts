import * as tf from '@tensorflow/tfjs-core';
import { type Rng, tensorData, type TensorData } from '@x/core';
import { conv2d, dense, gelu, swish, VariableSet } from '@x/tensor';
import type { ModelConfig } from './config.js';

/** Model parameters by name (variables of a {@link VariableSet}, or any tensors of those shapes). */
export type Params = Record<string, tf.Tensor>;

function uniformInit(rng: Rng, shape: number[], fanIn: number): TensorData<'float32'> {
  const bound = 1 / Math.sqrt(fanIn);
  const out = tensorData('float32', shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = rng.uniform(-bound, bound);
  return out;
}

function normalInit(rng: Rng, shape: number[], std: number): TensorData<'float32'> {
  const out = tensorData('float32', shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = rng.normal(0, std);
  return out;
}

/** The shapes of every parameter of a model config, by name. */
export function parameterShapes(cfg: ModelConfig): Record<string, number[]> {
  const C = cfg.channels;
  const k = cfg.kernel;
  const shapes: Record<string, number[]> = {
    'time/fc1/w': [cfg.fourierDim, cfg.timeDim],
    'time/fc1/b': [cfg.timeDim],
    'time/fc2/w': [cfg.timeDim, cfg.timeDim],
    'time/fc2/b': [cfg.timeDim],
    'stem/kernel': [cfg.stemKernel, cfg.stemKernel, 18, C],
    'stem/bias': [C],
    'out/kernel': [cfg.outKernel, cfg.outKernel, C, 9],
    'out/bias': [9],
  };
  for (let i = 0; i < cfg.blocks; i++) {
    shapes[`block${i}/conv1/kernel`] = [k, k, C, C];
    shapes[`block${i}/conv1/bias`] = [C];
    shapes[`block${i}/conv2/kernel`] = [k, k, C, C];
    shapes[`block${i}/conv2/bias`] = [C];
    shapes[`block${i}/film/w`] = [cfg.timeDim, 2 * C];
    shapes[`block${i}/film/b`] = [2 * C];
  }
  return shapes;
}

function fanInOf(name: string, shape: number[], shapes: Record<string, number[]>): number {
  const weight = name.replace(/\/(b|bias)$/, name.endsWith('/bias') ? '/kernel' : '/w');
  const w = shapes[weight] ?? shape;
  return w.slice(0, -1).reduce((a, b) => a * b, 1);
}

/**
 * Creates the `SudokuEBM` parameters, each drawn from its own stream `rng.stream('init', name)`
 * (PyTorch's default uniform ±1/√fan_in; the second conv of each block N(0, 1e-5) as in the
 * reference), so initial weights do not depend on creation order.
 */
export function initParams(cfg: ModelConfig, rng: Rng): VariableSet {
  const shapes = parameterShapes(cfg);
  const params = new VariableSet();
  for (const name of Object.keys(shapes).sort()) {
    const shape = shapes[name] as number[];
    const r = rng.stream('init', name);
    const init = /conv2\/kernel$/.test(name)
      ? normalInit(r, shape, 1e-5)
      : uniformInit(r, shape, fanInOf(name, shape, shapes));
    params.add(name, init);
  }
  return params;
}

/** Number of scalar parameters of a config. */
export function parameterCount(cfg: ModelConfig): number {
  return Object.values(parameterShapes(cfg)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
}

/** Sinusoidal features of landscape indices: `[sin(t·f_k), cos(t·f_k)]`, f_k = 10000^(−k/(half−1)). */
export function sinusoidalFeatures(t: readonly number[], dim: number): Float32Array {
  const half = dim / 2;
  const scale = Math.log(10000) / (half - 1);
  const out = new Float32Array(t.length * dim);
  t.forEach((ti, b) => {
    for (let k = 0; k < half; k++) {
      const a = ti * Math.exp(-k * scale);
      out[b * dim + k] = Math.sin(a);
      out[b * dim + half + k] = Math.cos(a);
    }
  });
  return out;
}

function conv(p: Params, name: string, x: tf.Tensor4D): tf.Tensor4D {
  return tf.add(conv2d(x, p[`${name}/kernel`] as tf.Tensor4D), p[`${name}/bias`] as tf.Tensor1D);
}

/**
 * The energy E(inp, y, t) of each board, shape `[B]`: `inp` and `y` are `[B, 729]` (±1
 * encoding, flat index `(row*9+col)*9+digit`, so a reshape gives NHWC boards), `t` the landscape
 * index of each board. Architecture of the reference `SudokuEBM`: 18-channel input, conv stem +
 * swish, residual blocks (conv, swish, conv, FiLM `(gain+1)·x+bias` from the landscape
 * embedding, swish, add), output conv to 9 channels, energy = sum of squares.
 */
export function energy(
  cfg: ModelConfig,
  p: Params,
  inp: tf.Tensor2D,
  y: tf.Tensor2D,
  t: readonly number[],
): tf.Tensor1D {
  return tf.tidy(() => {
    const B = inp.shape[0];
    const C = cfg.channels;
    const feats = tf.tensor2d(sinusoidalFeatures(t, cfg.fourierDim), [B, cfg.fourierDim]);
    const t1 = gelu(
      dense(feats, p['time/fc1/w'] as tf.Tensor2D, p['time/fc1/b'] as tf.Tensor1D),
    ) as tf.Tensor2D;
    const temb = dense(t1, p['time/fc2/w'] as tf.Tensor2D, p['time/fc2/b'] as tf.Tensor1D);
    const x = tf.concat<tf.Tensor4D>(
      [tf.reshape(inp, [B, 9, 9, 9]), tf.reshape(y, [B, 9, 9, 9])],
      3,
    );
    let h = swish(conv(p, 'stem', x)) as tf.Tensor4D;
    for (let i = 0; i < cfg.blocks; i++) {
      const film = dense(
        temb,
        p[`block${i}/film/w`] as tf.Tensor2D,
        p[`block${i}/film/b`] as tf.Tensor1D,
      );
      const gain = tf.reshape(tf.slice(film, [0, 0], [B, C]), [B, 1, 1, C]);
      const bias = tf.reshape(tf.slice(film, [0, C], [B, C]), [B, 1, 1, C]);
      let a = swish(conv(p, `block${i}/conv1`, h)) as tf.Tensor4D;
      a = conv(p, `block${i}/conv2`, a);
      a = swish(tf.add(tf.mul(tf.add(gain, 1), a), bias)) as tf.Tensor4D;
      h = tf.add(h, a);
    }
    const out = conv(p, 'out', h);
    return tf.sum<tf.Tensor1D>(tf.square(out), [1, 2, 3]);
  });
}

/** ∇_y Σ_b E(inp_b, y_b, t_b), shape `[B, 729]` (the "noise prediction" of IRED). */
export function energyGrad(
  cfg: ModelConfig,
  p: Params,
  inp: tf.Tensor2D,
  y: tf.Tensor2D,
  t: readonly number[],
): tf.Tensor2D {
  return tf.grad((yy: tf.Tensor) => tf.sum(energy(cfg, p, inp, yy as tf.Tensor2D, t)))(
    y,
  ) as tf.Tensor2D;
}

/** Energies and their gradient w.r.t. y in one forward/backward pass; the caller disposes both. */
export function energyAndGrad(
  cfg: ModelConfig,
  p: Params,
  inp: tf.Tensor2D,
  y: tf.Tensor2D,
  t: readonly number[],
): { energy: tf.Tensor1D; grad: tf.Tensor2D } {
  let e: tf.Tensor1D | undefined;
  const grad = tf.grad((yy: tf.Tensor) => {
    e = tf.keep(energy(cfg, p, inp, yy as tf.Tensor2D, t));
    return tf.sum(e);
  })(y) as tf.Tensor2D;
  return { energy: e as tf.Tensor1D, grad };
}
