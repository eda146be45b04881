import * as tf from '@tensorflow/tfjs-core';
import { Rng, XError } from '@x/core';

/** Outcome of a finite-difference gradient check. */
export interface GradCheckResult {
  /** Largest |analytic − numeric| over the checked elements. */
  maxAbsError: number;
  /** Largest |analytic − numeric| / (atol + max(|analytic|, |numeric|)). */
  maxRelError: number;
  /** The element furthest outside the tolerance (or closest to it). */
  worst: { param: string; index: number; analytic: number; numeric: number };
  /** Every checked element satisfies |a − n| ≤ atol + rtol·max(|a|, |n|). */
  ok: boolean;
  /** Number of elements compared. */
  checked: number;
}

/**
 * Options of {@link checkGradients}. Defaults suit float32: eps 3e-2 with Richardson
 * extrapolation (1e-2 without), rtol 2e-2, atol 1e-3 × the largest |analytic| gradient element,
 * at most 12 sampled elements per parameter.
 */
export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** Elements checked per parameter (all when the parameter is smaller). */
  samples?: number;
  /** Picks the sampled elements; default a fixed seed. */
  rng?: Rng;
  /**
   * Richardson extrapolation of the central difference (4 evaluations per element instead of 2,
   * truncation error O(eps⁴) instead of O(eps²)). Default true.
   */
  richardson?: boolean;
}

/** Reads and disposes a scalar (asynchronously: WebGPU has no synchronous reads in Node). */
async function scalarOf(t: tf.Tensor): Promise<number> {
  try {
    if (t.size !== 1)
      throw new XError(
        'INVALID_INPUT',
        `gradient check: f must return a scalar, got shape [${t.shape.join(', ')}]`,
      );
    return ((await t.data()) as Float32Array)[0] as number;
  } finally {
    t.dispose();
  }
}

/**
 * Compares tfjs gradients of `f` with respect to each named parameter against central finite
 * differences of `f` (perturbing sampled elements one at a time). Parameters are plain tensors;
 * `f` is called with the same names. Works in float32: perturbations are rounded to float32 and
 * the actual step is used.
 *
 * @example
 * const r = await checkGradients((p) => tf.sum(tf.square(swish(p.x))), { x: tf.randomNormal([8]) });
 * expect(r.ok).toBe(true);
 */
export async function checkGradients(
  f: (p: Record<string, tf.Tensor>) => tf.Tensor,
  params: Record<string, tf.Tensor>,
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const richardson = opts.richardson ?? true;
  const eps = opts.eps ?? (richardson ? 3e-2 : 1e-2);
  const rtol = opts.rtol ?? 2e-2;
  const samples = opts.samples ?? 12;
  const rng = opts.rng ?? Rng.fromSeed('checkGradients');
  const names = Object.keys(params).sort();
  const call = (ts: tf.Tensor[]) =>
    f(Object.fromEntries(names.map((n, i) => [n, ts[i] as tf.Tensor])));
  await scalarOf(tf.tidy(() => call(names.map((n) => params[n] as tf.Tensor))));
  const grads = tf.tidy(() =>
    tf.grads((...ts: tf.Tensor[]) => call(ts))(names.map((n) => params[n] as tf.Tensor)),
  );
  const analytic: Float32Array[] = [];
  for (const g of grads) analytic.push(Float32Array.from((await g.data()) as Float32Array));
  tf.dispose(grads);
  let largest = 0;
  for (const g of analytic) for (const v of g) largest = Math.max(largest, Math.abs(v));
  const atol = opts.atol ?? Math.max(1e-3 * largest, 1e-7);
  const result: GradCheckResult = {
    maxAbsError: 0,
    maxRelError: 0,
    worst: { param: names[0] ?? '', index: -1, analytic: 0, numeric: 0 },
    ok: true,
    checked: 0,
  };
  let worstRatio = -1;
  for (const [pi, name] of names.entries()) {
    const base = params[name] as tf.Tensor;
    const values = Float32Array.from((await base.data()) as Float32Array);
    const indices =
      values.length <= samples
        ? Array.from(values, (_, i) => i)
        : rng.stream(name).sample(values.length, samples);
    const evalAt = (index: number, value: number) =>
      scalarOf(
        tf.tidy(() => {
          const data = values.slice();
          data[index] = value;
          const ts = names.map((n, j) =>
            j === pi ? tf.tensor(data, base.shape, 'float32') : (params[n] as tf.Tensor),
          );
          return call(ts);
        }),
      );
    const central = async (index: number, h: number) => {
      const orig = values[index] as number;
      const hp = Math.fround(orig + h);
      const hm = Math.fround(orig - h);
      return ((await evalAt(index, hp)) - (await evalAt(index, hm))) / (hp - hm);
    };
    for (const index of indices) {
      const numeric = richardson
        ? (4 * (await central(index, eps / 2)) - (await central(index, eps))) / 3
        : await central(index, eps);
      const a = (analytic[pi] as Float32Array)[index] as number;
      const abs = Math.abs(a - numeric);
      const scale = Math.max(Math.abs(a), Math.abs(numeric));
      const ratio = abs / (atol + rtol * scale);
      result.checked += 1;
      result.maxAbsError = Math.max(result.maxAbsError, abs);
      result.maxRelError = Math.max(result.maxRelError, abs / (atol + scale));
      if (!(ratio <= 1)) result.ok = false;
      if (ratio > worstRatio || Number.isNaN(ratio)) {
        worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
        result.worst = { param: name, index, analytic: a, numeric };
      }
    }
  }
  return result;
}

/** An energy E(x; θ) for {@link checkSecondOrder}: a scalar of the input `x` and the parameters. */
export type EnergyFn = (x: tf.Tensor, p: Record<string, tf.Tensor>) => tf.Tensor;

/**
 * The IRED-style training loss on an energy gradient: ‖∇ₓE(x; θ) − target‖² (target 0 when
 * omitted). Differentiating it with respect to θ needs gradients of gradients.
 */
export function gradientMatchingLoss(
  energy: EnergyFn,
  x: tf.Tensor,
  p: Record<string, tf.Tensor>,
  target?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const gx = tf.grad((xx: tf.Tensor) => energy(xx, p))(x);
    return tf.sum(tf.square(target === undefined ? gx : tf.sub(gx, target)));
  });
}

/**
 * Second-order check as IRED trains: compares d/dθ of g(θ) = ‖∇ₓE(x; θ) − target‖² from tfjs
 * (gradients of gradients) against finite differences of g.
 *
 * @example
 * const energy = (x, p) => tf.sum(tf.square(swish(conv2d(x, p.k))));
 * expect((await checkSecondOrder(energy, x, { k })).ok).toBe(true);
 */
export function checkSecondOrder(
  energy: EnergyFn,
  x: tf.Tensor,
  params: Record<string, tf.Tensor>,
  opts: GradCheckOptions & { target?: tf.Tensor } = {},
): Promise<GradCheckResult> {
  return checkGradients((p) => gradientMatchingLoss(energy, x, p, opts.target), params, opts);
}
