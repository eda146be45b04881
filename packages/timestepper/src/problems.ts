import { Rng, XError } from '@x/core';
import type { InitialConditions } from './nbody.js';

/** The benchmark problems of the reference. */
export const PROBLEMS = ['kepler', 'figure8', 'pythagorean', 'plummer'] as const;
export type ProblemName = (typeof PROBLEMS)[number];

/** A problem: its initial conditions, softening and the reference's integration horizon. */
export interface Problem {
  name: ProblemName;
  ic: InitialConditions;
  /** End time of the reference's work–precision runs. */
  tEnd: number;
  /** A characteristic period (Kepler orbit, figure-eight period, crossing time). */
  period: number;
}

function single(
  N: number,
  eps: number,
  pos: number[][],
  vel: number[][],
  m: number[],
): InitialConditions {
  const x = pos.flatMap((p) => [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0]);
  const v = vel.flatMap((p) => [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0]);
  return { B: 1, N, eps, x, v, m };
}

/** Two equal unit masses on a Kepler orbit of semi-major axis `a` and eccentricity `e`, at pericentre. */
export function keplerIC(e: number, a = 1, angle = 0): InitialConditions {
  const rp = a * (1 - e);
  const vrel = Math.sqrt((2 * (1 + e)) / (a * (1 - e)));
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const rot = (px: number, py: number) => [c * px - s * py, s * px + c * py, 0];
  return single(
    2,
    0,
    [rot(-rp / 2, 0), rot(rp / 2, 0)],
    [rot(0, vrel / 2), rot(0, -vrel / 2)],
    [1, 1],
  );
}

/** Plummer sphere (Aarseth–Hénon–Wielen 1974) in Hénon units (G = M = 1, scale a = 3π/16), centre-of-mass frame. */
export function plummerIC(N: number, rng: Rng, eps = 0.01): InitialConditions {
  const a = (3 * Math.PI) / 16;
  const pos: number[][] = [];
  const vel: number[][] = [];
  const unitVector = (): number[] => {
    const z = rng.uniform(-1, 1);
    const phi = rng.uniform(0, 2 * Math.PI);
    const r = Math.sqrt(1 - z * z);
    return [r * Math.cos(phi), r * Math.sin(phi), z];
  };
  for (let i = 0; i < N; i++) {
    let r = Infinity;
    while (!(r < 20 * a)) {
      const u = rng.uniform(1e-10, 1);
      r = a / Math.sqrt(u ** (-2 / 3) - 1);
    }
    let q = 0;
    for (;;) {
      const x4 = rng.uniform();
      const y = rng.uniform(0, 0.1);
      if (y < x4 * x4 * (1 - x4 * x4) ** 3.5) {
        q = x4;
        break;
      }
    }
    const speed = q * Math.sqrt(2 / Math.sqrt(r * r + a * a));
    pos.push(unitVector().map((c) => c * r));
    vel.push(unitVector().map((c) => c * speed));
  }
  const m = new Array<number>(N).fill(1 / N);
  return centreOfMass(single(N, eps, pos, vel, m));
}

/** Moves one-system initial conditions into the centre-of-mass frame. */
export function centreOfMass(ic: InitialConditions): InitialConditions {
  const x = Array.from(ic.x);
  const v = Array.from(ic.v);
  for (let b = 0; b < ic.B; b++) {
    let M = 0;
    const cx = [0, 0, 0];
    const cv = [0, 0, 0];
    for (let i = 0; i < ic.N; i++) {
      const mi = ic.m[b * ic.N + i] as number;
      M += mi;
      for (let c = 0; c < 3; c++) {
        cx[c] = (cx[c] as number) + mi * (x[(b * ic.N + i) * 3 + c] as number);
        cv[c] = (cv[c] as number) + mi * (v[(b * ic.N + i) * 3 + c] as number);
      }
    }
    for (let i = 0; i < ic.N; i++) {
      for (let c = 0; c < 3; c++) {
        const k = (b * ic.N + i) * 3 + c;
        x[k] = (x[k] as number) - (cx[c] as number) / M;
        v[k] = (v[k] as number) - (cv[c] as number) / M;
      }
    }
  }
  return { ...ic, x, v };
}

/**
 * The named problem with the reference's exact initial conditions (G = 1). `plummer` draws its
 * N = 100 particles from `rng` (default: the fixed stream of seed `plummer-100`, the benchmark sphere).
 */
export function makeProblem(name: ProblemName, rng?: Rng): Problem {
  switch (name) {
    case 'kepler':
      return {
        name,
        ic: keplerIC(0.9),
        tEnd: 100 * ((2 * Math.PI) / Math.SQRT2),
        period: (2 * Math.PI) / Math.SQRT2,
      };
    case 'figure8': {
      const T = 6.32591398;
      const ic = single(
        3,
        0,
        [
          [0.97000436, -0.24308753],
          [-0.97000436, 0.24308753],
          [0, 0],
        ],
        [
          [0.466203685, 0.43236573],
          [0.466203685, 0.43236573],
          [-0.93240737, -0.86473146],
        ],
        [1, 1, 1],
      );
      return { name, ic, tEnd: 10 * T, period: T };
    }
    case 'pythagorean': {
      const ic = single(
        3,
        0,
        [
          [1, 3],
          [-2, -1],
          [1, -1],
        ],
        [
          [0, 0],
          [0, 0],
          [0, 0],
        ],
        [3, 4, 5],
      );
      return { name, ic, tEnd: 70, period: 1 };
    }
    case 'plummer':
      return { name, ic: plummerIC(100, rng ?? Rng.fromSeed('plummer-100')), tEnd: 10, period: 1 };
  }
}

/** Parses a problem name, throwing INVALID_INPUT naming the choices. */
export function parseProblem(raw: unknown, where: string): ProblemName {
  if (typeof raw === 'string' && (PROBLEMS as readonly string[]).includes(raw))
    return raw as ProblemName;
  throw new XError(
    'INVALID_INPUT',
    `${where}: expected one of ${PROBLEMS.join(', ')}, got ${JSON.stringify(raw)}`,
  );
}

/**
 * Which systems a problem's training and validation draw from: `wide`, the problem's whole family
 * (see {@link randomSystem}); `near`, random systems near the problem's own initial conditions.
 */
export type SystemFamily = 'wide' | 'near';

/** Rotates a planar system by `angle` about the z axis. */
function rotated(ic: InitialConditions, angle: number): InitialConditions {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const turn = (a: ArrayLike<number>) => {
    const out = Array.from(a);
    for (let i = 0; i < out.length; i += 3) {
      const x = a[i] as number;
      const y = a[i + 1] as number;
      out[i] = c * x - s * y;
      out[i + 1] = s * x + c * y;
    }
    return out;
  };
  return { ...ic, x: turn(ic.x), v: turn(ic.v) };
}

/**
 * A planar system's initial conditions with every in-plane position and velocity component
 * perturbed by N(0, `sigma`²) times the RMS size of the positions (velocities), re-centred on
 * the centre of mass, at a random orientation.
 */
function perturbed(ic: InitialConditions, rng: Rng, sigma: number): InitialConditions {
  const jiggle = (a: ArrayLike<number>) => {
    const out = Array.from(a);
    const rms = Math.sqrt(out.reduce((t, c) => t + c * c, 0) / (out.length / 3));
    for (let i = 0; i < out.length; i++)
      if (i % 3 !== 2) out[i] = (out[i] as number) + rng.normal(0, sigma) * rms;
    return out;
  };
  return rotated(
    centreOfMass({ ...ic, x: jiggle(ic.x), v: jiggle(ic.v) }),
    rng.uniform(0, 2 * Math.PI),
  );
}

/**
 * A seeded random training system of the problem's family, drawn from `rng`. `wide` (default):
 * Kepler orbits with e ∈ [0.6, 0.95], a ∈ [0.8, 1.2] at a random orientation (kepler); bound
 * planar three-body systems with masses in [0.5, 1.5]·scale and virial ratio in [0.05, 0.45]
 * (figure8, pythagorean); a fresh Plummer sphere of `plummerN` particles (plummer). `near`: Kepler
 * orbits with e ∈ [0.85, 0.95]; the figure-eight or the Pythagorean problem with positions and
 * velocities perturbed by 2 % (figure-eight) or 5 % (Pythagorean positions; it starts at rest) and
 * a random orientation; Plummer spheres as in `wide`. Either way a draw is never exactly the
 * benchmark's initial conditions.
 */
export function randomSystem(
  name: ProblemName,
  rng: Rng,
  plummerN = 100,
  family: SystemFamily = 'wide',
): InitialConditions {
  if (family === 'near') {
    switch (name) {
      case 'kepler':
        return keplerIC(
          rng.uniform(0.85, 0.95),
          rng.uniform(0.8, 1.2),
          rng.uniform(0, 2 * Math.PI),
        );
      case 'figure8':
        return perturbed(makeProblem('figure8').ic, rng, 0.02);
      case 'pythagorean':
        return perturbed(makeProblem('pythagorean').ic, rng, 0.05);
      case 'plummer':
        break;
    }
  }
  switch (name) {
    case 'kepler':
      return keplerIC(rng.uniform(0.6, 0.95), rng.uniform(0.8, 1.2), rng.uniform(0, 2 * Math.PI));
    case 'figure8':
    case 'pythagorean': {
      const scale = name === 'pythagorean' ? 4 : 1;
      const m = [0, 1, 2].map(() => scale * rng.uniform(0.5, 1.5));
      const pos = [0, 1, 2].map(() => [rng.normal(0, 1), rng.normal(0, 1), 0]);
      const vel = [0, 1, 2].map(() => [rng.normal(0, 1), rng.normal(0, 1), 0]);
      const ic = centreOfMass(single(3, 0, pos, vel, m));
      let K = 0;
      let W = 0;
      for (let i = 0; i < 3; i++) {
        const vi = [0, 1, 2].map((c) => ic.v[i * 3 + c] as number);
        K += 0.5 * (m[i] as number) * (vi[0]! ** 2 + vi[1]! ** 2 + vi[2]! ** 2);
        for (let j = i + 1; j < 3; j++) {
          const r = Math.hypot(
            ...[0, 1, 2].map((c) => (ic.x[j * 3 + c] as number) - (ic.x[i * 3 + c] as number)),
          );
          W -= ((m[i] as number) * (m[j] as number)) / r;
        }
      }
      const q = rng.uniform(0.05, 0.45);
      const f = K > 0 ? Math.sqrt((q * -W) / K) : 0;
      return { ...ic, v: Array.from(ic.v, (c) => c * f) };
    }
    case 'plummer':
      return plummerIC(plummerN, rng);
  }
}

/** Concatenates one-system initial conditions (same N and softening) into one batch. */
export function stackIC(items: readonly InitialConditions[]): InitialConditions {
  const first = items[0];
  if (first === undefined) throw new XError('INVALID_CONFIG', 'stackIC: no systems');
  for (const it of items) {
    if (it.N !== first.N || it.eps !== first.eps) {
      throw new XError('INVALID_CONFIG', 'stackIC: systems differ in N or softening');
    }
  }
  return {
    B: items.reduce((s, it) => s + it.B, 0),
    N: first.N,
    eps: first.eps,
    x: items.flatMap((it) => Array.from(it.x)),
    v: items.flatMap((it) => Array.from(it.v)),
    m: items.flatMap((it) => Array.from(it.m)),
  };
}
