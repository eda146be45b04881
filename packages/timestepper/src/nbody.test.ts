import { Rng } from '@x/core';
import { describe, expect, it } from 'vitest';
import { accelerationDerivatives } from './derivatives.js';
import {
  accelerations,
  angularMomentum,
  cloneNBody,
  createState,
  leapfrogStep,
  totalEnergy,
  type NBodyState,
} from './nbody.js';
import { makeProblem, randomSystem, stackIC } from './problems.js';

function softenedRandom(seed: number): NBodyState {
  const rng = Rng.fromSeed(seed);
  const N = 5;
  const x = Array.from({ length: N * 3 }, () => rng.normal());
  const v = Array.from({ length: N * 3 }, () => rng.normal(0, 0.3));
  const m = Array.from({ length: N }, () => rng.uniform(0.5, 2));
  return createState({ B: 1, N, eps: 0.2, x, v, m });
}

describe('forces and energy', () => {
  it('accelerations are minus the gradient of the softened potential over mass', () => {
    const s = softenedRandom(1);
    const h = 1e-6;
    for (const k of [0, 4, 8, 13]) {
      const xp = s.x.slice();
      const xm = s.x.slice();
      xp[k] = (xp[k] as number) + h;
      xm[k] = (xm[k] as number) - h;
      const scratch = new Float64Array(s.x.length);
      const dU =
        (accelerations(xp, s.m, s.N, s.eps, 0, scratch) -
          accelerations(xm, s.m, s.N, s.eps, 0, scratch)) /
        (2 * h);
      const mi = s.m[Math.floor(k / 3)] as number;
      expect(-dU / mi).toBeCloseTo(s.a[k] as number, 6);
    }
  });

  it('reproduces the reference energies of the named problems', () => {
    const kepler = createState(makeProblem('kepler').ic);
    expect(totalEnergy(kepler, 0)).toBeCloseTo(-0.5, 4);
    const f8 = createState(makeProblem('figure8').ic);
    expect(totalEnergy(f8, 0)).toBeCloseTo(-1.287142, 6);
    expect(angularMomentum(f8, 0)[2]).toBeCloseTo(0, 6);
    const py = createState(makeProblem('pythagorean').ic);
    expect(totalEnergy(py, 0)).toBeCloseTo(-769 / 60, 10);
    const pl = createState(makeProblem('plummer', Rng.fromSeed(3).stream('plummer')).ic);
    expect(pl.N).toBe(100);
    expect(totalEnergy(pl, 0)).toBeGreaterThan(-0.4);
    expect(totalEnergy(pl, 0)).toBeLessThan(-0.15);
  });

  it('seeded random systems are reproducible and bound', () => {
    for (const name of ['kepler', 'figure8', 'pythagorean'] as const) {
      const a = randomSystem(name, Rng.fromSeed(7).stream('sys', 0));
      const b = randomSystem(name, Rng.fromSeed(7).stream('sys', 0));
      expect(Array.from(a.x)).toEqual(Array.from(b.x));
      expect(totalEnergy(createState(a), 0)).toBeLessThan(0);
    }
  });

  it('the near family stays near the problem: kepler e in [0.85, 0.95], perturbed three-body ICs', () => {
    for (let i = 0; i < 20; i++) {
      const s = createState(randomSystem('kepler', Rng.fromSeed(3).stream('near', i), 100, 'near'));
      // Eccentricity from the relative orbit (G = 1, total mass 2): e = |v×h/μ − r̂|.
      const r = [0, 1, 2].map((c) => (s.x[3 + c] as number) - (s.x[c] as number));
      const v = [0, 1, 2].map((c) => (s.v[3 + c] as number) - (s.v[c] as number));
      const h = [
        r[1]! * v[2]! - r[2]! * v[1]!,
        r[2]! * v[0]! - r[0]! * v[2]!,
        r[0]! * v[1]! - r[1]! * v[0]!,
      ];
      const vxh = [
        v[1]! * h[2]! - v[2]! * h[1]!,
        v[2]! * h[0]! - v[0]! * h[2]!,
        v[0]! * h[1]! - v[1]! * h[0]!,
      ];
      const rn = Math.hypot(...r);
      const e = Math.hypot(...[0, 1, 2].map((c) => vxh[c]! / 2 - r[c]! / rn));
      expect(e).toBeGreaterThanOrEqual(0.85 - 1e-9);
      expect(e).toBeLessThanOrEqual(0.95 + 1e-9);
    }
    for (const name of ['figure8', 'pythagorean'] as const) {
      const exact = createState(makeProblem(name).ic);
      const E0 = totalEnergy(exact, 0);
      const energies = [0, 1, 2, 3].map((i) => {
        const ic = randomSystem(name, Rng.fromSeed(3).stream('near', i), 100, 'near');
        const s = createState(ic);
        expect(Array.from(s.m)).toEqual(Array.from(exact.m));
        // Centre of mass at rest at the origin.
        for (let c = 0; c < 3; c++) {
          let px = 0;
          let pv = 0;
          for (let k = 0; k < 3; k++) {
            px += (s.m[k] as number) * (s.x[k * 3 + c] as number);
            pv += (s.m[k] as number) * (s.v[k * 3 + c] as number);
          }
          expect(Math.abs(px) + Math.abs(pv)).toBeLessThan(1e-12);
        }
        return totalEnergy(s, 0);
      });
      // A few per cent from the problem's energy, and never exactly it.
      for (const E of energies) {
        expect(Math.abs(E / E0 - 1)).toBeLessThan(0.25);
        expect(E).not.toBe(E0);
      }
      expect(new Set(energies).size).toBe(4);
    }
  });
});

describe('KDK leapfrog', () => {
  it('costs one force evaluation per step and conserves momentum and angular momentum', () => {
    const s = softenedRandom(2);
    const L0 = angularMomentum(s, 0);
    const before = s.forceEvals[0] as number;
    for (let i = 0; i < 100; i++) leapfrogStep(s, 0, 0.01);
    expect((s.forceEvals[0] as number) - before).toBe(100);
    const L1 = angularMomentum(s, 0);
    for (let c = 0; c < 3; c++) expect(L1[c]).toBeCloseTo(L0[c] as number, 12);
  });

  it('is second order: halving dt divides the energy error by about 4', () => {
    const base = createState(makeProblem('figure8').ic);
    const err = (dt: number) => {
      const s = cloneNBody(base);
      const E0 = totalEnergy(s, 0);
      let e = 0;
      for (let t = 0; t < Math.round(2 / dt); t++) {
        leapfrogStep(s, 0, dt);
        e = Math.max(e, Math.abs(totalEnergy(s, 0) - E0));
      }
      return e;
    };
    const r = err(0.004) / err(0.002);
    expect(r).toBeGreaterThan(3);
    expect(r).toBeLessThan(5.5);
  });

  it('is time-reversible: forward then backward returns to the start', () => {
    const s = createState(makeProblem('figure8').ic);
    const x0 = s.x.slice();
    for (let i = 0; i < 500; i++) leapfrogStep(s, 0, 0.01);
    for (let i = 0; i < 500; i++) leapfrogStep(s, 0, -0.01);
    for (let k = 0; k < x0.length; k++) expect(s.x[k]).toBeCloseTo(x0[k] as number, 9);
  });

  it('steps batch items independently', () => {
    const ics = [0, 1].map((i) => randomSystem('figure8', Rng.fromSeed(5).stream('sys', i)));
    const batch = createState(stackIC(ics));
    const single = createState(ics[1]!);
    leapfrogStep(batch, 1, 0.01);
    leapfrogStep(single, 0, 0.01);
    expect(Array.from(batch.x.slice(9, 18))).toEqual(Array.from(single.x));
    expect(batch.t[0]).toBe(0);
  });
});

describe('acceleration derivatives', () => {
  it('jerk, snap and crackle match finite differences along a fine trajectory', () => {
    const s = softenedRandom(4);
    const d0 = accelerationDerivatives(s, 0);
    const h = 1e-4;
    const fwd = cloneNBody(s);
    const bwd = cloneNBody(s);
    leapfrogStep(fwd, 0, h);
    leapfrogStep(bwd, 0, -h);
    const dp = accelerationDerivatives(fwd, 0);
    const dm = accelerationDerivatives(bwd, 0);
    for (let k = 0; k < 15; k++) {
      const jerkFd = ((fwd.a[k] as number) - (bwd.a[k] as number)) / (2 * h);
      expect(d0.jerk[k]).toBeCloseTo(jerkFd, 4);
      const snapFd = ((dp.jerk[k] as number) - (dm.jerk[k] as number)) / (2 * h);
      expect(Math.abs((d0.snap[k] as number) - snapFd)).toBeLessThan(1e-3 * (1 + Math.abs(snapFd)));
      const crackleFd = ((dp.snap[k] as number) - (dm.snap[k] as number)) / (2 * h);
      expect(Math.abs((d0.crackle[k] as number) - crackleFd)).toBeLessThan(
        1e-2 * (1 + Math.abs(crackleFd)),
      );
    }
  });
});
