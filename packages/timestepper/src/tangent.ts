import { refreshForces, type NBodyState } from './nbody.js';

/**
 * Forward-mode derivative of one system's phase-space state with respect to one step size:
 * `dx = ∂x/∂dt_k`, `dv = ∂v/∂dt_k`, `da = ∂a/∂dt_k`, each `[N, 3]`.
 */
export interface Tangent {
  dx: Float64Array;
  dv: Float64Array;
  da: Float64Array;
}

/** A zero tangent for `N` particles. */
export function zeroTangent(N: number): Tangent {
  return { dx: new Float64Array(N * 3), dv: new Float64Array(N * 3), da: new Float64Array(N * 3) };
}

/**
 * The directional derivative of the softened accelerations of system `b` along the position
 * perturbation `dx` (`[N, 3]`, local to the system): `out = (∂a/∂x) dx`.
 */
export function accelerationJvp(
  s: NBodyState,
  b: number,
  dx: Float64Array,
  out: Float64Array,
): void {
  const { N, x, m } = s;
  const o = b * N * 3;
  const e2 = s.eps * s.eps;
  out.fill(0);
  for (let i = 0; i < N; i++) {
    const ii = o + i * 3;
    const li = i * 3;
    for (let j = i + 1; j < N; j++) {
      const jj = o + j * 3;
      const lj = j * 3;
      const rx = (x[jj] as number) - (x[ii] as number);
      const ry = (x[jj + 1] as number) - (x[ii + 1] as number);
      const rz = (x[jj + 2] as number) - (x[ii + 2] as number);
      const ux = (dx[lj] as number) - (dx[li] as number);
      const uy = (dx[lj + 1] as number) - (dx[li + 1] as number);
      const uz = (dx[lj + 2] as number) - (dx[li + 2] as number);
      const s2 = rx * rx + ry * ry + rz * rz + e2;
      const inv = 1 / Math.sqrt(s2);
      const inv3 = inv * inv * inv;
      const c = (3 * (rx * ux + ry * uy + rz * uz)) / s2;
      const gx = (ux - c * rx) * inv3;
      const gy = (uy - c * ry) * inv3;
      const gz = (uz - c * rz) * inv3;
      const mi = m[b * N + i] as number;
      const mj = m[b * N + j] as number;
      out[li] = (out[li] as number) + mj * gx;
      out[li + 1] = (out[li + 1] as number) + mj * gy;
      out[li + 2] = (out[li + 2] as number) + mj * gz;
      out[lj] = (out[lj] as number) - mi * gx;
      out[lj + 1] = (out[lj + 1] as number) - mi * gy;
      out[lj + 2] = (out[lj + 2] as number) - mi * gz;
    }
  }
}

/**
 * One KDK leapfrog step of system `b` with step `dt` that also carries tangents: every tangent in
 * `carried` (derivatives with respect to earlier step sizes, held fixed here) is pushed through
 * the step, and `own` (pass a zero tangent) becomes the derivative with respect to this `dt`.
 * Costs one force evaluation plus one Jacobian-vector product per tangent.
 */
export function leapfrogStepWithTangents(
  s: NBodyState,
  b: number,
  dt: number,
  carried: readonly Tangent[],
  own: Tangent,
): void {
  const n3 = s.N * 3;
  const o = b * n3;
  const h = 0.5 * dt;
  const { x, v, a } = s;
  const all = [...carried, own];
  for (const T of all) {
    for (let k = 0; k < n3; k++) T.dv[k] = (T.dv[k] as number) + h * (T.da[k] as number);
  }
  for (let k = 0; k < n3; k++) {
    v[o + k] = (v[o + k] as number) + h * (a[o + k] as number);
    own.dv[k] = (own.dv[k] as number) + 0.5 * (a[o + k] as number);
  }
  for (const T of all) {
    for (let k = 0; k < n3; k++) T.dx[k] = (T.dx[k] as number) + dt * (T.dv[k] as number);
  }
  for (let k = 0; k < n3; k++) {
    own.dx[k] = (own.dx[k] as number) + (v[o + k] as number);
    x[o + k] = (x[o + k] as number) + dt * (v[o + k] as number);
  }
  refreshForces(s, b);
  for (const T of all) {
    accelerationJvp(s, b, T.dx, T.da);
    for (let k = 0; k < n3; k++) T.dv[k] = (T.dv[k] as number) + h * (T.da[k] as number);
  }
  for (let k = 0; k < n3; k++) {
    v[o + k] = (v[o + k] as number) + h * (a[o + k] as number);
    own.dv[k] = (own.dv[k] as number) + 0.5 * (a[o + k] as number);
  }
  s.t[b] = (s.t[b] as number) + dt;
}

/**
 * Derivative of the total energy of system `b` along a tangent:
 * `dE = Σ m (v·dv − a·dx)` (exact because the potential's gradient is `−m a` with the same softening).
 */
export function energyTangent(s: NBodyState, b: number, T: Tangent): number {
  const n3 = s.N * 3;
  const o = b * n3;
  let d = 0;
  for (let i = 0; i < s.N; i++) {
    const mi = s.m[b * s.N + i] as number;
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c;
      d +=
        mi *
        ((s.v[o + k] as number) * (T.dv[k] as number) -
          (s.a[o + k] as number) * (T.dx[k] as number));
    }
  }
  return d;
}
