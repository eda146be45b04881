import type { NBodyState } from './nbody.js';

/** Time derivatives of the acceleration of one system, each `[N, 3]`. */
export interface AccelerationDerivatives {
  jerk: Float64Array;
  snap: Float64Array;
  crackle: Float64Array;
}

/**
 * Analytic jerk, snap and crackle of system `b` (Plummer-softened, recursive pair formulas of
 * Nitadori & Makino 2008) from its positions, velocities and cached accelerations. Two O(N²)
 * passes; the caller counts them as force evaluations.
 */
export function accelerationDerivatives(s: NBodyState, b: number): AccelerationDerivatives {
  const { N, x, v, a, m } = s;
  const o = b * N * 3;
  const e2 = s.eps * s.eps;
  const jerk = new Float64Array(N * 3);
  const snap = new Float64Array(N * 3);
  const crackle = new Float64Array(N * 3);
  const rel = (arr: Float64Array, i: number, j: number, c: number) =>
    (arr[o + j * 3 + c] as number) - (arr[o + i * 3 + c] as number);
  const relLocal = (arr: Float64Array, i: number, j: number, c: number) =>
    (arr[j * 3 + c] as number) - (arr[i * 3 + c] as number);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const r = [0, 1, 2].map((c) => rel(x, i, j, c)) as [number, number, number];
        const w = [0, 1, 2].map((c) => rel(v, i, j, c)) as [number, number, number];
        const s2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + e2;
        const inv = 1 / Math.sqrt(s2);
        const inv3 = inv * inv * inv;
        const alpha = (r[0] * w[0] + r[1] * w[1] + r[2] * w[2]) / s2;
        const A = r.map((c) => c * inv3);
        const J = [0, 1, 2].map((c) => (w[c] as number) * inv3 - 3 * alpha * (A[c] as number));
        const mi = m[b * N + i] as number;
        const mj = m[b * N + j] as number;
        if (pass === 0) {
          for (let c = 0; c < 3; c++) {
            jerk[i * 3 + c] = (jerk[i * 3 + c] as number) + mj * (J[c] as number);
            jerk[j * 3 + c] = (jerk[j * 3 + c] as number) - mi * (J[c] as number);
          }
          continue;
        }
        const ar = [0, 1, 2].map((c) => rel(a, i, j, c));
        const jr = [0, 1, 2].map((c) => relLocal(jerk, i, j, c));
        const dot = (p: number[], q: number[]) =>
          (p[0] as number) * (q[0] as number) +
          (p[1] as number) * (q[1] as number) +
          (p[2] as number) * (q[2] as number);
        const beta = (dot(w, w) + dot(r, ar)) / s2 + alpha * alpha;
        const gamma = (3 * dot(w, ar) + dot(r, jr)) / s2 + alpha * (3 * beta - 4 * alpha * alpha);
        for (let c = 0; c < 3; c++) {
          const S =
            (ar[c] as number) * inv3 - 6 * alpha * (J[c] as number) - 3 * beta * (A[c] as number);
          const C =
            (jr[c] as number) * inv3 -
            9 * alpha * S -
            9 * beta * (J[c] as number) -
            3 * gamma * (A[c] as number);
          snap[i * 3 + c] = (snap[i * 3 + c] as number) + mj * S;
          snap[j * 3 + c] = (snap[j * 3 + c] as number) - mi * S;
          crackle[i * 3 + c] = (crackle[i * 3 + c] as number) + mj * C;
          crackle[j * 3 + c] = (crackle[j * 3 + c] as number) - mi * C;
        }
      }
    }
  }
  return { jerk, snap, crackle };
}
