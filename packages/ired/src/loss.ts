import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@x/core';
import { withConvCache } from '@x/tensor';
import type { DiffusionConfig, ModelConfig } from './config.js';
import { BOARD_SIZE, fillNormalAt, encodeGrid, givensMask } from './encoding.js';
import type { Puzzle } from './generator.js';
import { energy, energyGrad, type Params } from './model.js';
import type { Schedule } from './schedule.js';

/** One training batch on the host: encodings, landscape indices and every random draw. */
export interface LossBatch {
  size: number;
  /** Quiz encodings `[B, 729]` (±1, blanks all −1). */
  inp: Float32Array;
  /** Solution encodings `[B, 729]`. */
  label: Float32Array;
  /** Givens masks `[B, 729]`. */
  mask: Float32Array;
  /** Landscape index per board. */
  t: number[];
  /** ε of the denoising term `[B, 729]`. */
  noise: Float32Array;
  /** ε′ shared by the contrastive positive and negative `[B, 729]`. */
  noise2: Float32Array;
  /** The negatives: solutions with each cell re-drawn uniformly with probability p, ±1 encoded. */
  negative: Float32Array;
}

/**
 * Builds a training batch. Board `b` draws everything (t, ε, ε′, corrupted digits) from its own
 * stream `rng.stream(b)`, so a board's draws do not depend on the batch size.
 */
export function makeLossBatch(
  puzzles: readonly Puzzle[],
  landscapes: number,
  corruption: number,
  rng: Rng,
): LossBatch {
  const B = puzzles.length;
  const n = B * BOARD_SIZE;
  const batch: LossBatch = {
    size: B,
    inp: new Float32Array(n),
    label: new Float32Array(n),
    mask: new Float32Array(n),
    t: [],
    noise: new Float32Array(n),
    noise2: new Float32Array(n),
    negative: new Float32Array(n),
  };
  puzzles.forEach((p, b) => {
    const r = rng.stream(b);
    const o = b * BOARD_SIZE;
    encodeGrid(p.quiz, batch.inp, o);
    encodeGrid(p.solution, batch.label, o);
    givensMask(p.quiz, batch.mask, o);
    batch.t.push(r.int(0, landscapes));
    fillNormalAt(r.stream('noise'), batch.noise, o);
    fillNormalAt(r.stream('noise2'), batch.noise2, o);
    const c = r.stream('corrupt');
    const neg = Uint8Array.from(p.solution);
    for (let i = 0; i < 81; i++) {
      const flip = c.uniform() < corruption;
      const digit = c.int(1, 10);
      if (flip) neg[i] = digit;
    }
    encodeGrid(neg, batch.negative, o);
  });
  return batch;
}

/** Boards `[start, end)` of a batch (their draws are the same as in the whole batch). */
export function sliceLossBatch(batch: LossBatch, start: number, end: number): LossBatch {
  const a = start * BOARD_SIZE;
  const b = end * BOARD_SIZE;
  return {
    size: end - start,
    inp: batch.inp.slice(a, b),
    label: batch.label.slice(a, b),
    mask: batch.mask.slice(a, b),
    t: batch.t.slice(start, end),
    noise: batch.noise.slice(a, b),
    noise2: batch.noise2.slice(a, b),
    negative: batch.negative.slice(a, b),
  };
}

/** The loss and its two terms (scalars; the caller disposes them). */
export interface LossParts {
  total: tf.Scalar;
  mse: tf.Scalar;
  contrastive: tf.Scalar;
}

function perBoard(values: Float64Array, t: readonly number[]): tf.Tensor2D {
  return tf.tensor2d(
    t.map((ti) => values[ti] as number),
    [t.length, 1],
  );
}

/**
 * The IRED training loss for Sudoku. Denoising: x_t = √ᾱ·y + √(1−ᾱ)·ε with the givens clamped
 * to √ᾱ·inp; the prediction ∇_y E(inp, x_t, t) (so the parameter gradient is a double
 * backprop) is set to ε on given cells and compared with ε by MSE over the 729 values.
 * Contrastive: −log softmax([−E⁺, −E⁻])₀ = softplus(E⁺ − E⁻) with E⁺ at the noised solution and
 * E⁻ at the noised corrupted solution (same ε′, givens clamped). Total = MSE + w·contrastive.
 */
export function lossParts(
  model: ModelConfig,
  diffusion: DiffusionConfig,
  schedule: Schedule,
  p: Params,
  batch: LossBatch,
): LossParts {
  const B = batch.size;
  const shape: [number, number] = [B, BOARD_SIZE];
  let mseK: tf.Scalar | undefined;
  let conK: tf.Scalar | undefined;
  const total = tf.tidy(() => {
    const inp = tf.tensor2d(batch.inp, shape);
    const label = tf.tensor2d(batch.label, shape);
    const mask = tf.tensor2d(batch.mask, shape);
    const keep = tf.sub(1, mask);
    const noise = tf.tensor2d(batch.noise, shape);
    const sa = perBoard(schedule.sqrtAlphasCumprod, batch.t);
    const s1m = perBoard(schedule.sqrtOneMinusAlphasCumprod, batch.t);
    const cond = tf.mul(mask, tf.mul(sa, inp));
    const clamp = (x: tf.Tensor) => tf.add<tf.Tensor2D>(tf.mul(x, keep), cond);
    const xt = clamp(tf.add(tf.mul(sa, label), tf.mul(s1m, noise)));
    const pred = energyGrad(model, p, inp, xt, batch.t);
    const out = tf.add(tf.mul(pred, keep), tf.mul(mask, noise));
    const mse = tf.mean<tf.Scalar>(tf.square(tf.sub(out, noise)));
    mseK = tf.keep(mse.clone());
    if (diffusion.contrastiveWeight === 0) {
      conK = tf.keep(tf.scalar(0));
      return mse;
    }
    const noise2 = tf.tensor2d(batch.noise2, shape);
    const pos = clamp(tf.add(tf.mul(sa, label), tf.mul(s1m, noise2)));
    const neg = clamp(tf.add(tf.mul(sa, tf.tensor2d(batch.negative, shape)), tf.mul(s1m, noise2)));
    const e = energy(model, p, tf.concat([inp, inp], 0), tf.concat([pos, neg], 0), [
      ...batch.t,
      ...batch.t,
    ]);
    const ePos = tf.slice(e, [0], [B]);
    const eNeg = tf.slice(e, [B], [B]);
    const con = tf.mean<tf.Scalar>(tf.softplus(tf.sub(ePos, eNeg)));
    conK = tf.keep(con.clone());
    return tf.add<tf.Scalar>(mse, tf.mul(con, diffusion.contrastiveWeight));
  });
  return { total, mse: mseK as tf.Scalar, contrastive: conK as tf.Scalar };
}

/** Loss terms (read back) and parameter gradients of one (micro-)batch; the caller disposes `grads`. */
export interface LossAndGrads {
  loss: number;
  mse: number;
  contrastive: number;
  grads: tf.Tensor[];
}

/**
 * {@link lossParts} and its gradients with respect to `tensors` (the parameters `names`, in that
 * order). The same computation whether it runs in the trainer or in a gradient worker, so both
 * give bitwise-identical gradients.
 */
export async function lossAndGrads(
  model: ModelConfig,
  diffusion: DiffusionConfig,
  schedule: Schedule,
  names: readonly string[],
  tensors: readonly tf.Tensor[],
  batch: LossBatch,
): Promise<LossAndGrads> {
  let parts: { mse: tf.Scalar; contrastive: tf.Scalar } | undefined;
  const { value, grads } = withConvCache(() =>
    tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const p: Params = Object.fromEntries(names.map((n, i) => [n, xs[i] as tf.Tensor]));
      const r = lossParts(model, diffusion, schedule, p, batch);
      parts = { mse: r.mse, contrastive: r.contrastive };
      return r.total;
    })([...tensors]),
  );
  const scalar = async (t: tf.Tensor | undefined) =>
    ((await t?.data()) as Float32Array)[0] as number;
  try {
    return {
      loss: await scalar(value),
      mse: await scalar(parts?.mse),
      contrastive: await scalar(parts?.contrastive),
      grads,
    };
  } finally {
    value.dispose();
    parts?.mse.dispose();
    parts?.contrastive.dispose();
  }
}
