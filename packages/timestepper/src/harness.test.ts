import { Rng } from '@x/core';
import { initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { cheapestWithin, defaultSweeps, runComparison } from './harness.js';
import { integrate } from './integrate.js';
import { learnedRule } from './learnedRule.js';
import { DtModel } from './model.js';
import { createState } from './nbody.js';
import { featureSize } from './features.js';
import { makeProblem } from './problems.js';
import { aarsethRule, adaptiveRule, fixedRule, symmetricRule } from './stepRules.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('step rules and the comparison harness', () => {
  const f8 = makeProblem('figure8');
  const s0 = createState(f8.ic);

  it('lands exactly on tEnd and counts one force evaluation per leapfrog step', () => {
    const r = integrate(s0, fixedRule(0.03), { tEnd: 1 });
    expect(r.steps).toBe(34);
    expect(r.forceEvals).toBe(1 + 34);
    const a = integrate(s0, aarsethRule(0.01), { tEnd: 1 });
    expect(a.forceEvals).toBe(1 + 3 * a.steps);
  });

  it('time-symmetric selection does not drift like the naive rule at the same η', () => {
    const naive = integrate(s0, adaptiveRule(0.02), { tEnd: f8.tEnd });
    const sym = integrate(s0, symmetricRule(0.02), { tEnd: f8.tEnd });
    expect(sym.finalRelEnergyError).toBeLessThan(0.01 * naive.finalRelEnergyError);
    expect(Math.abs(sym.forceEvals - naive.forceEvals)).toBeLessThan(0.05 * naive.forceEvals);
  });

  it('an untrained learned rule is the naive rule with η0; its symmetric form matches too', () => {
    const model = new DtModel(
      { inputs: featureSize(2), hidden: [4], logEta0: Math.log(0.02), range: 4 },
      Rng.fromSeed(1),
    );
    const l = integrate(s0, learnedRule(model, 2), { tEnd: 5 });
    const n = integrate(s0, adaptiveRule(0.02), { tEnd: 5 });
    expect(l.steps).toBe(n.steps);
    expect(l.maxRelEnergyError).toBeCloseTo(n.maxRelEnergyError, 10);
    const ls = integrate(s0, learnedRule(model, 2, { symmetric: true }), { tEnd: 5 });
    const ns = integrate(s0, symmetricRule(0.02), { tEnd: 5 });
    expect(ls.steps).toBe(ns.steps);
    model.dispose();
  });

  it('sweeps every method into the contract document', () => {
    const rep = runComparison('figure8', s0, 2, defaultSweeps('figure8', 2, 3));
    expect(rep.methods.map((m) => m.name)).toEqual(['fixed', 'adaptive', 'symmetric', 'aarseth']);
    for (const m of rep.methods) {
      expect(m.points).toHaveLength(3);
      for (const p of m.points) {
        expect(Object.keys(p)).toEqual(
          expect.arrayContaining([
            'param',
            'forceEvals',
            'maxRelEnergyError',
            'finalRelEnergyError',
            'wallSeconds',
          ]),
        );
      }
      const fe = m.points.map((p) => p.forceEvals);
      expect(fe[2]).toBeGreaterThan(fe[0]!);
    }
    expect(cheapestWithin(rep.methods[0]!, 1)).toBeDefined();
  });
});
