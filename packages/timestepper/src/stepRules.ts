import { accelerationDerivatives } from './derivatives.js';
import { freeFallTau, type NBodyState } from './nbody.js';

/** Chooses the next step size of system `b` from its current state. */
export interface StepRule {
  readonly name: string;
  /** The step size for system `b` (may count extra force evaluations on `s.forceEvals`). */
  dt(s: NBodyState, b: number): number;
}

/** A constant step. */
export function fixedRule(dt: number): StepRule {
  return { name: 'fixed', dt: () => dt };
}

/** Naive state-based rule `dt = η τ(x_n)` (τ: minimum pair free-fall time). */
export function adaptiveRule(eta: number): StepRule {
  return { name: 'adaptive', dt: (s, b) => eta * freeFallTau(s.x, s.m, s.N, s.eps, b) };
}

/**
 * Positions of system `b` drifted by `dt` with the cached acceleration
 * (`x + v dt + a dt²/2`), written into `out` (`[N, 3]`); no force evaluation.
 */
export function predictPositions(s: NBodyState, b: number, dt: number, out: Float64Array): void {
  const o = b * s.N * 3;
  for (let k = 0; k < s.N * 3; k++) {
    out[k] =
      (s.x[o + k] as number) + dt * (s.v[o + k] as number) + 0.5 * dt * dt * (s.a[o + k] as number);
  }
}

/** Velocities of system `b` predicted at `t + dt` with the cached acceleration, into `out`. */
export function predictVelocities(s: NBodyState, b: number, dt: number, out: Float64Array): void {
  const o = b * s.N * 3;
  for (let k = 0; k < s.N * 3; k++) out[k] = (s.v[o + k] as number) + dt * (s.a[o + k] as number);
}

/**
 * Time-symmetric selection `dt = ½[h(z_n) + h(z̃_{n+1}(dt))]` by `iterations` fixed-point passes
 * over the drift prediction z̃ (Hut, Makino & McMillan 1995); `h(x, v)` sees one-system arrays.
 */
export function symmetricDt(
  s: NBodyState,
  b: number,
  h: (x: Float64Array, v: Float64Array) => number,
  iterations = 3,
): number {
  const n3 = s.N * 3;
  const o = b * n3;
  const h0 = h(s.x.subarray(o, o + n3), s.v.subarray(o, o + n3));
  const xp = new Float64Array(n3);
  const vp = new Float64Array(n3);
  let dt = h0;
  for (let k = 0; k < iterations; k++) {
    predictPositions(s, b, dt, xp);
    predictVelocities(s, b, dt, vp);
    dt = 0.5 * (h0 + h(xp, vp));
  }
  return dt;
}

/** Time-symmetric version of the naive rule: `dt = η[τ(x_n) + τ(x̃_{n+1})]/2`, 3 passes. */
export function symmetricRule(eta: number, iterations = 3): StepRule {
  return {
    name: 'symmetric',
    dt: (s, b) =>
      symmetricDt(
        s,
        b,
        (x) => eta * freeFallTau(x, s.m.subarray(b * s.N, (b + 1) * s.N), s.N, s.eps, 0),
        iterations,
      ),
  };
}

/**
 * Aarseth (1985) criterion, minimum over particles:
 * `dt = sqrt(η (|a||s| + |j|²) / (|j||c| + |s|²))`, with analytic jerk, snap and crackle
 * (two extra O(N²) passes per step, counted as two force evaluations).
 */
export function aarsethRule(eta: number): StepRule {
  return {
    name: 'aarseth',
    dt: (s, b) => {
      const d = accelerationDerivatives(s, b);
      s.forceEvals[b] = (s.forceEvals[b] as number) + 2;
      const o = b * s.N * 3;
      const norm = (arr: Float64Array, k: number) =>
        Math.hypot(arr[k] as number, arr[k + 1] as number, arr[k + 2] as number);
      let best = Infinity;
      for (let i = 0; i < s.N; i++) {
        const a = norm(s.a, o + i * 3);
        const j = norm(d.jerk, i * 3);
        const sn = norm(d.snap, i * 3);
        const c = norm(d.crackle, i * 3);
        const den = j * c + sn * sn;
        if (den > 0) best = Math.min(best, (eta * (a * sn + j * j)) / den);
      }
      return Math.sqrt(best);
    },
  };
}
