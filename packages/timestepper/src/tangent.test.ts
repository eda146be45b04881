import { Rng } from '@x/core';
import { describe, expect, it } from 'vitest';
import { cloneNBody, createState, leapfrogStep, totalEnergy } from './nbody.js';
import { makeProblem } from './problems.js';
import { energyTangent, leapfrogStepWithTangents, zeroTangent, type Tangent } from './tangent.js';

function energyAfter(base: ReturnType<typeof createState>, dts: number[]): number {
  const s = cloneNBody(base);
  for (const dt of dts) leapfrogStep(s, 0, dt);
  return totalEnergy(s, 0);
}

describe('energy derivative with respect to dt (forward mode, float64)', () => {
  it('matches central finite differences for one step on the e = 0.9 Kepler orbit', () => {
    const base = createState(makeProblem('kepler').ic);
    for (const dt of [1e-3, 5e-3, 2e-2]) {
      const s = cloneNBody(base);
      const T = zeroTangent(s.N);
      leapfrogStepWithTangents(s, 0, dt, [], T);
      const exact = energyTangent(s, 0, T);
      const h = dt * 1e-5;
      const fd = (energyAfter(base, [dt + h]) - energyAfter(base, [dt - h])) / (2 * h);
      expect(Math.abs(exact - fd)).toBeLessThan(
        1e-6 * Math.max(1, Math.abs(fd)) + 1e-7 * Math.abs(exact),
      );
      expect(totalEnergy(s, 0)).toBe(energyAfter(base, [dt]));
    }
  });

  it('carries derivatives with respect to every earlier step through a softened rollout', () => {
    const rng = Rng.fromSeed(11);
    const N = 4;
    const base = createState({
      B: 1,
      N,
      eps: 0.05,
      x: Array.from({ length: N * 3 }, () => rng.normal()),
      v: Array.from({ length: N * 3 }, () => rng.normal(0, 0.5)),
      m: Array.from({ length: N }, () => rng.uniform(0.5, 1.5)),
    });
    const dts = [0.02, 0.015, 0.03, 0.01, 0.025];
    const s = cloneNBody(base);
    const tangents: Tangent[] = [];
    for (const dt of dts) {
      const own = zeroTangent(N);
      leapfrogStepWithTangents(s, 0, dt, tangents, own);
      tangents.push(own);
    }
    dts.forEach((dt, k) => {
      const h = 1e-6;
      const up = dts.map((d, i) => (i === k ? d + h : d));
      const dn = dts.map((d, i) => (i === k ? d - h : d));
      const fd = (energyAfter(base, up) - energyAfter(base, dn)) / (2 * h);
      const exact = energyTangent(s, 0, tangents[k]!);
      expect(Math.abs(exact - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      expect(dt).toBeGreaterThan(0);
    });
  });
});
