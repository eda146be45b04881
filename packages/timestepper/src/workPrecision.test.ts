import { Rng, stateDigest } from '@x/core';
import { initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainConfig, type TrainConfig } from './config.js';
import { featureSize } from './features.js';
import { operatingPoint } from './harness.js';
import { integrate } from './integrate.js';
import { learnedRule } from './learnedRule.js';
import { DtModel } from './model.js';
import { createState, type InitialConditions } from './nbody.js';
import { keplerIC, makeProblem } from './problems.js';
import { symmetricRule } from './stepRules.js';
import { TimestepTrainer } from './trainer.js';
import { WorkPrecisionAccumulator } from './workPrecision.js';
import { workPrecisionRollout } from './wpRollout.js';
import { curriculumSteps } from './wpTrain.js';
import { validateAgainstSymmetric, validationSystems } from './wpValidate.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const OPTS = { tolerance: 1e-4, power: 8, order: 2 };

function objectiveOf(ic: InitialConditions, dts: readonly number[]) {
  const acc = new WorkPrecisionAccumulator(createState(ic), OPTS);
  for (const dt of dts) acc.step(dt);
  return acc.finish();
}

function softened(seed: number): InitialConditions {
  const rng = Rng.fromSeed(seed);
  const N = 4;
  return {
    B: 1,
    N,
    eps: 0.05,
    x: Array.from({ length: N * 3 }, () => rng.normal()),
    v: Array.from({ length: N * 3 }, () => rng.normal(0, 0.5)),
    m: Array.from({ length: N }, () => rng.uniform(0.5, 1.5)),
  };
}

describe('work–precision objective', () => {
  it('its gradient with respect to every dt matches central finite differences', () => {
    const cases: [InitialConditions, number[]][] = [
      [keplerIC(0.9), [0.004, 0.006, 0.003, 0.008, 0.005, 0.01, 0.007, 0.02]],
      [softened(11), [0.02, 0.015, 0.03, 0.01, 0.025, 0.02]],
    ];
    for (const [ic, dts] of cases) {
      const exact = objectiveOf(ic, dts);
      expect(Number.isFinite(exact.objective)).toBe(true);
      dts.forEach((dt, k) => {
        const h = dt * 1e-4;
        const up = objectiveOf(
          ic,
          dts.map((d, i) => (i === k ? d + h : d)),
        ).objective;
        const dn = objectiveOf(
          ic,
          dts.map((d, i) => (i === k ? d - h : d)),
        ).objective;
        const fd = (up - dn) / (2 * h);
        expect(Math.abs((exact.grad[k] as number) - fd)).toBeLessThan(1e-4 * Math.abs(fd) + 1e-5);
      });
    }
  });

  it('a window covering the rollout is the exact gradient; a shorter one freezes old derivatives', () => {
    const ic = keplerIC(0.9);
    const dts = [0.004, 0.006, 0.003, 0.008, 0.005, 0.01, 0.007, 0.02];
    const run = (window?: number) => {
      const acc = new WorkPrecisionAccumulator(createState(ic), {
        ...OPTS,
        ...(window === undefined ? {} : { window }),
      });
      for (const dt of dts) acc.step(dt);
      return acc.finish();
    };
    const exact = run();
    expect(Array.from(run(8).grad)).toEqual(Array.from(exact.grad));
    const short = run(2);
    expect(short.objective).toBe(exact.objective);
    // The last two steps' tangents are still carried, so their derivatives are exact.
    expect(short.grad[7]).toBeCloseTo(exact.grad[7]!, 10);
    expect(short.grad[0]).not.toBeCloseTo(exact.grad[0]!, 6);
  });

  it('is the log of the steps per unit time at the tolerance, nearly invariant to the rule’s overall scale', () => {
    const ic = keplerIC(0.9);
    const run = (scale: number) => {
      const s = createState(ic);
      const acc = new WorkPrecisionAccumulator(s, OPTS);
      const rule = symmetricRule(0.02 * scale);
      while (s.t[0]! < 4.5) acc.step(rule.dt(s, 0));
      return acc.finish();
    };
    const a = run(1);
    const b = run(0.5);
    expect(b.steps).toBeGreaterThan(1.8 * a.steps);
    expect(b.maxRel).toBeLessThan(0.3 * a.maxRel);
    expect(Math.abs(a.objective - b.objective)).toBeLessThan(0.1);
    expect(a.objective).toBeCloseTo(
      Math.log(a.steps / a.time) + 0.5 * Math.log(a.softMax / 1e-4),
      12,
    );
    expect(a.softMax).toBeLessThanOrEqual(a.maxRel * (1 + 1e-12));
    expect(a.softMax).toBeGreaterThan(0.5 * a.maxRel);
  });

  it('the curriculum doubles the rollout up to its cap', () => {
    const wp = { ...defaultTrainConfig, workPrecision: null };
    const c = {
      updatesPerEpoch: 1,
      systems: 1,
      startSteps: 16,
      maxSteps: 100,
      doubleEvery: 2,
      tolerance: 1e-4,
      power: 8,
      window: 8,
    };
    expect([0, 1, 2, 3, 4, 6, 9].map((e) => curriculumSteps(c, e))).toEqual([
      16, 16, 32, 32, 64, 100, 100,
    ]);
    expect(wp.workPrecision).toBeNull();
  });
});

function tinyWp(seedless: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultTrainConfig,
    problem: 'kepler',
    symmetric: true,
    model: { ...defaultTrainConfig.model, hidden: [8], eta0: 0.03 },
    workPrecision: {
      updatesPerEpoch: 2,
      systems: 2,
      startSteps: 16,
      maxSteps: 32,
      doubleEvery: 1,
      tolerance: 1e-4,
      power: 8,
      window: 8,
    },
    ...seedless,
  };
}

describe('work–precision training', () => {
  it('an untrained model is exactly the time-symmetric rule at its η0', () => {
    const model = new DtModel(
      { inputs: featureSize(0), hidden: [8], logEta0: Math.log(0.03), range: 4 },
      Rng.fromSeed(3),
    );
    const s0 = createState(makeProblem('figure8').ic);
    const l = integrate(s0, learnedRule(model, 0, { symmetric: true }), { tEnd: 3 });
    const s = integrate(s0, symmetricRule(0.03), { tEnd: 3 });
    expect(l.steps).toBe(s.steps);
    expect(l.maxRelEnergyError / s.maxRelEnergyError).toBeCloseTo(1, 6);
    const v = validateAgainstSymmetric(model, validationSystems('kepler', 2, 0), {
      historyLen: 0,
      symmetric: true,
      eta0: 0.03,
      scale: 1,
      horizon: 4,
      tolerance: 1e-4,
      maxForceEvals: 1e5,
    });
    expect(Math.abs(v.score)).toBeLessThan(1e-3);
    model.dispose();
  });

  it('an untrained model scaled by the sweep is exactly the symmetric rule at η0·scale (Kepler e=0.9)', () => {
    const model = new DtModel(
      { inputs: featureSize(0), hidden: [8], logEta0: Math.log(0.03), range: 4 },
      Rng.fromSeed(3),
    );
    const kepler = makeProblem('kepler');
    const s0 = createState(kepler.ic);
    for (const scale of [0.17, 2]) {
      const l = integrate(s0, learnedRule(model, 0, { symmetric: true, scale }), {
        tEnd: 2 * kepler.period,
      });
      const s = integrate(s0, symmetricRule(0.03 * scale), { tEnd: 2 * kepler.period });
      expect(l.steps).toBe(s.steps);
      expect(l.maxRelEnergyError / s.maxRelEnergyError).toBeCloseTo(1, 6);
    }
    const v = validateAgainstSymmetric(model, validationSystems('kepler', 2, 0), {
      historyLen: 0,
      symmetric: true,
      eta0: 0.03,
      scale: 0.17,
      horizon: 4,
      tolerance: 1e-4,
      maxForceEvals: 1e5,
    });
    expect(Math.abs(v.score)).toBeLessThan(1e-3);
    model.dispose();
  });

  it('the same seed gives the same weights; another seed gives others', async () => {
    const digestAfter = async (seed: number, cfg: TrainConfig) => {
      const t = new TimestepTrainer(cfg, seed);
      const m0 = await t.epoch();
      const m1 = await t.epoch();
      expect(m0.wp?.wpSteps).toBe(16);
      expect(m1.wp?.wpSteps).toBe(32);
      expect(m1.wp?.wpUpdates).toBe(2);
      expect(t.optimizer.step).toBe(4);
      expect(t.progress.value.epoch).toBe(2);
      const d = stateDigest(await t.model.getState());
      t.dispose();
      return d;
    };
    const cfg = tinyWp();
    const a = await digestAfter(5, cfg);
    expect(await digestAfter(5, cfg)).toBe(a);
    expect(await digestAfter(6, cfg)).not.toBe(a);
    const h = tinyWp({ model: { ...cfg.model, historyLen: 2 } });
    expect(await digestAfter(5, h)).toBe(await digestAfter(5, h));
  });

  it('a rollout’s coefficients are ∂J/∂dt chained through ∂dt/∂raw of every model evaluation', () => {
    const model = new DtModel(
      { inputs: featureSize(0), hidden: [8], logEta0: Math.log(0.03), range: 4 },
      Rng.fromSeed(3),
    );
    const r = workPrecisionRollout(model, keplerIC(0.8), {
      ...OPTS,
      steps: 12,
      historyLen: 0,
      symmetric: true,
    });
    expect(r.steps).toBe(12);
    expect(r.inputs).toHaveLength(24);
    // Shape only: the component along a uniform rescaling of every dt (Σ_r ∂J/∂raw_r) is removed.
    const total = r.coeffs.reduce((a, b) => a + b, 0);
    const abs = r.coeffs.reduce((a, b) => a + Math.abs(b), 0);
    expect(abs).toBeGreaterThan(0);
    expect(Math.abs(total)).toBeLessThan(1e-9 * abs);
    const full = workPrecisionRollout(model, keplerIC(0.8), {
      ...OPTS,
      steps: 12,
      historyLen: 0,
      symmetric: true,
      shapeOnly: false,
    });
    expect(full.objective).toBe(r.objective);
    expect(Math.abs(full.coeffs.reduce((a, b) => a + b, 0))).toBeGreaterThan(1e-3 * abs);
    model.dispose();
  });
});

describe('tolerance sweep (operatingPoint)', () => {
  it('brackets and bisects to the cheapest parameter within the tolerance', () => {
    const p = makeProblem('figure8');
    const r = operatingPoint(createState(p.ic), p.period, symmetricRule, {
      hi: 0.4,
      lo: 1e-3,
      tolerance: 1e-4,
      bisections: 5,
      maxForceEvals: 1e6,
    });
    expect(r.best).toBeDefined();
    expect(r.best!.maxRelEnergyError).toBeLessThanOrEqual(1e-4);
    const failing = r.points.filter((q) => q.maxRelEnergyError > 1e-4 && q.param < 0.4);
    expect(failing.length).toBeGreaterThan(0);
    // The best passing parameter is within 2^(1/32) of the smallest failing one above it.
    const above = Math.min(...failing.filter((q) => q.param > r.best!.param).map((q) => q.param));
    expect(above / r.best!.param).toBeLessThan(2 ** (1 / 16));
  });
});
