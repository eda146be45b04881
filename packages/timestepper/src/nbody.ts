import { XError } from '@x/core';

/**
 * A batch of `B` independent gravitating systems of `N` particles each, in 3-D (planar problems
 * have z = 0), in float64 with G = 1. Positions, velocities and the cached accelerations are
 * row-major `[B, N, 3]`; masses `[B, N]`. Plummer softening `eps` is shared by the batch and used
 * identically in forces and energy.
 */
export interface NBodyState {
  readonly B: number;
  readonly N: number;
  readonly eps: number;
  readonly x: Float64Array;
  readonly v: Float64Array;
  /** Acceleration at the current positions (cached so a KDK step costs one force evaluation). */
  readonly a: Float64Array;
  readonly m: Float64Array;
  /** Potential energy per system at the current positions (from the same force pass). */
  readonly pot: Float64Array;
  /** Time per system. */
  readonly t: Float64Array;
  /** Force evaluations (one O(N²) pass over one system) spent so far, per system. */
  readonly forceEvals: Float64Array;
}

/** Plain initial conditions of one or more systems: positions and velocities `[B, N, 3]`. */
export interface InitialConditions {
  B: number;
  N: number;
  eps: number;
  x: ArrayLike<number>;
  v: ArrayLike<number>;
  m: ArrayLike<number>;
}

/**
 * Computes accelerations of system `b` into `aOut` (same layout as `x`) and returns its softened
 * potential energy `-Σ_{i<j} m_i m_j / sqrt(r² + eps²)`.
 */
export function accelerations(
  x: Float64Array,
  m: Float64Array,
  N: number,
  eps: number,
  b: number,
  aOut: Float64Array,
): number {
  const o = b * N * 3;
  const mo = b * N;
  const e2 = eps * eps;
  for (let k = o; k < o + N * 3; k++) aOut[k] = 0;
  let pot = 0;
  for (let i = 0; i < N; i++) {
    const ii = o + i * 3;
    const xi = x[ii] as number;
    const yi = x[ii + 1] as number;
    const zi = x[ii + 2] as number;
    const mi = m[mo + i] as number;
    let axi = 0;
    let ayi = 0;
    let azi = 0;
    for (let j = i + 1; j < N; j++) {
      const jj = o + j * 3;
      const dx = (x[jj] as number) - xi;
      const dy = (x[jj + 1] as number) - yi;
      const dz = (x[jj + 2] as number) - zi;
      const s2 = dx * dx + dy * dy + dz * dz + e2;
      const inv = 1 / Math.sqrt(s2);
      const inv3 = inv * inv * inv;
      const mj = m[mo + j] as number;
      pot -= mi * mj * inv;
      axi += mj * dx * inv3;
      ayi += mj * dy * inv3;
      azi += mj * dz * inv3;
      aOut[jj] = (aOut[jj] as number) - mi * dx * inv3;
      aOut[jj + 1] = (aOut[jj + 1] as number) - mi * dy * inv3;
      aOut[jj + 2] = (aOut[jj + 2] as number) - mi * dz * inv3;
    }
    aOut[ii] = (aOut[ii] as number) + axi;
    aOut[ii + 1] = (aOut[ii + 1] as number) + ayi;
    aOut[ii + 2] = (aOut[ii + 2] as number) + azi;
  }
  return pot;
}

/** Builds a batched state from initial conditions and evaluates the first accelerations. */
export function createState(ic: InitialConditions): NBodyState {
  const { B, N, eps } = ic;
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(N) || N < 2) {
    throw new XError('INVALID_CONFIG', `createState: need B >= 1 and N >= 2, got B=${B}, N=${N}`);
  }
  if (ic.x.length !== B * N * 3 || ic.v.length !== B * N * 3 || ic.m.length !== B * N) {
    throw new XError(
      'INVALID_CONFIG',
      `createState: x, v must have ${B * N * 3} and m ${B * N} values`,
    );
  }
  if (!(eps >= 0))
    throw new XError('INVALID_CONFIG', `createState: softening must be >= 0, got ${eps}`);
  const s: NBodyState = {
    B,
    N,
    eps,
    x: Float64Array.from(ic.x),
    v: Float64Array.from(ic.v),
    a: new Float64Array(B * N * 3),
    m: Float64Array.from(ic.m),
    pot: new Float64Array(B),
    t: new Float64Array(B),
    forceEvals: new Float64Array(B),
  };
  for (let b = 0; b < B; b++) refreshForces(s, b);
  return s;
}

/** Recomputes the cached accelerations and potential of system `b` (counts one force evaluation). */
export function refreshForces(s: NBodyState, b: number): void {
  s.pot[b] = accelerations(s.x, s.m, s.N, s.eps, b, s.a);
  s.forceEvals[b] = (s.forceEvals[b] as number) + 1;
}

/** Deep copy of a state. */
export function cloneNBody(s: NBodyState): NBodyState {
  return {
    B: s.B,
    N: s.N,
    eps: s.eps,
    x: s.x.slice(),
    v: s.v.slice(),
    a: s.a.slice(),
    m: s.m.slice(),
    pot: s.pot.slice(),
    t: s.t.slice(),
    forceEvals: s.forceEvals.slice(),
  };
}

/** A one-system state holding a copy of system `b` of `s` (time and counters included). */
export function extractSystem(s: NBodyState, b: number): NBodyState {
  const n3 = s.N * 3;
  return {
    B: 1,
    N: s.N,
    eps: s.eps,
    x: s.x.slice(b * n3, (b + 1) * n3),
    v: s.v.slice(b * n3, (b + 1) * n3),
    a: s.a.slice(b * n3, (b + 1) * n3),
    m: s.m.slice(b * s.N, (b + 1) * s.N),
    pot: s.pot.slice(b, b + 1),
    t: s.t.slice(b, b + 1),
    forceEvals: s.forceEvals.slice(b, b + 1),
  };
}

/** Copies system `from` of `src` into system `to` of `dst` (same N and eps). */
export function copySystem(src: NBodyState, from: number, dst: NBodyState, to: number): void {
  const n3 = src.N * 3;
  dst.x.set(src.x.subarray(from * n3, (from + 1) * n3), to * n3);
  dst.v.set(src.v.subarray(from * n3, (from + 1) * n3), to * n3);
  dst.a.set(src.a.subarray(from * n3, (from + 1) * n3), to * n3);
  dst.m.set(src.m.subarray(from * src.N, (from + 1) * src.N), to * src.N);
  dst.pot[to] = src.pot[from] as number;
  dst.t[to] = src.t[from] as number;
  dst.forceEvals[to] = src.forceEvals[from] as number;
}

/** Kinetic energy of system `b`. */
export function kineticEnergy(s: NBodyState, b: number): number {
  const o = b * s.N * 3;
  let k = 0;
  for (let i = 0; i < s.N; i++) {
    const vi = o + i * 3;
    const v2 =
      (s.v[vi] as number) ** 2 + (s.v[vi + 1] as number) ** 2 + (s.v[vi + 2] as number) ** 2;
    k += 0.5 * (s.m[b * s.N + i] as number) * v2;
  }
  return k;
}

/** Total (kinetic + softened potential) energy of system `b`, using the cached potential. */
export function totalEnergy(s: NBodyState, b: number): number {
  return kineticEnergy(s, b) + (s.pot[b] as number);
}

/** Total angular momentum `Σ m x × v` of system `b` as `[Lx, Ly, Lz]`. */
export function angularMomentum(s: NBodyState, b: number): [number, number, number] {
  const o = b * s.N * 3;
  let lx = 0;
  let ly = 0;
  let lz = 0;
  for (let i = 0; i < s.N; i++) {
    const k = o + i * 3;
    const mi = s.m[b * s.N + i] as number;
    const [x, y, z] = [s.x[k] as number, s.x[k + 1] as number, s.x[k + 2] as number];
    const [vx, vy, vz] = [s.v[k] as number, s.v[k + 1] as number, s.v[k + 2] as number];
    lx += mi * (y * vz - z * vy);
    ly += mi * (z * vx - x * vz);
    lz += mi * (x * vy - y * vx);
  }
  return [lx, ly, lz];
}

/**
 * One kick-drift-kick leapfrog step of system `b` with step `dt`, reusing the cached
 * acceleration: exactly one force evaluation.
 */
export function leapfrogStep(s: NBodyState, b: number, dt: number): void {
  const o = b * s.N * 3;
  const h = 0.5 * dt;
  const { x, v, a } = s;
  for (let k = o; k < o + s.N * 3; k++) {
    v[k] = (v[k] as number) + h * (a[k] as number);
    x[k] = (x[k] as number) + dt * (v[k] as number);
  }
  refreshForces(s, b);
  for (let k = o; k < o + s.N * 3; k++) v[k] = (v[k] as number) + h * (a[k] as number);
  s.t[b] = (s.t[b] as number) + dt;
}

/**
 * Minimum over pairs of the softened free-fall time `sqrt((r² + eps²)^{3/2} / (m_i + m_j))`
 * of system `b` at positions `x` (the reference's τ).
 */
export function freeFallTau(
  x: Float64Array,
  m: Float64Array,
  N: number,
  eps: number,
  b: number,
): number {
  const o = b * N * 3;
  const e2 = eps * eps;
  let best = Infinity;
  for (let i = 0; i < N; i++) {
    const ii = o + i * 3;
    for (let j = i + 1; j < N; j++) {
      const jj = o + j * 3;
      const dx = (x[jj] as number) - (x[ii] as number);
      const dy = (x[jj + 1] as number) - (x[ii + 1] as number);
      const dz = (x[jj + 2] as number) - (x[ii + 2] as number);
      const s2 = dx * dx + dy * dy + dz * dz + e2;
      const t2 = (s2 * Math.sqrt(s2)) / ((m[b * N + i] as number) + (m[b * N + j] as number));
      if (t2 < best) best = t2;
    }
  }
  return Math.sqrt(best);
}
