import { Rng, captureState, stateDigest } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { Adam, initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReplayBuffer } from './buffer.js';
import { Collector } from './collector.js';
import { defaultTrainConfig, type TrainConfig } from './config.js';
import { TRANSITION_FEATURES, featureSize } from './features.js';
import { DtModel } from './model.js';
import { makeProblem } from './problems.js';
import { rollout } from './rollout.js';
import { TimestepTrainer } from './trainer.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function tiny(
  patch: Partial<TrainConfig> = {},
  model: Partial<TrainConfig['model']> = {},
): TrainConfig {
  return {
    ...defaultTrainConfig,
    batch: 2,
    resetAfter: 50,
    model: { ...defaultTrainConfig.model, hidden: [8], ...model },
    part1: { stepsPerEpoch: 4, trainOnAccept: true },
    part2: { replaySteps: 1, batch: 2, rollout: 3, bufferSize: 32, minBuffer: 2 },
    ...patch,
  };
}

function parts(cfg: TrainConfig) {
  const problem = makeProblem(cfg.problem);
  const K = cfg.model.historyLen;
  const model = new DtModel(
    {
      inputs: featureSize(K),
      hidden: cfg.model.hidden,
      logEta0: Math.log(cfg.model.eta0),
      range: cfg.model.range,
    },
    Rng.fromSeed(1),
  );
  const opt = new Adam(model.params, { learningRate: cfg.optimizer.learningRate });
  const collector = new Collector(cfg, problem.ic, Rng.fromSeed(2));
  const buffer = new ReplayBuffer(cfg.part2.bufferSize, problem.ic.N, K * TRANSITION_FEATURES);
  return { model, opt, collector, buffer };
}

describe('Part 1 collection', () => {
  it('accepts only steps below the gate; warm-up steps feed the history but not the buffer', async () => {
    const cfg = tiny({}, { historyLen: 2 });
    const { model, opt, collector, buffer } = parts(cfg);
    const m1 = await collector.collectStep(model, opt, buffer);
    expect(m1.maxAcceptedError).toBeLessThan(cfg.gate.threshold);
    expect(buffer.size).toBe(0);
    expect(Array.from(collector.historyOf(0).subarray(0, TRANSITION_FEATURES)).at(-1)).toBe(1);
    expect(Array.from(collector.historyOf(0).subarray(TRANSITION_FEATURES))).toEqual([0, 0, 0, 0]);
    await collector.collectStep(model, opt, buffer);
    expect(buffer.size).toBe(0);
    await collector.collectStep(model, opt, buffer);
    expect(buffer.size).toBe(2);
    expect(Array.from(buffer.get(0).history).filter((v) => v === 1)).toHaveLength(2);
    model.dispose();
  });

  it('retrains on the same state when a step fails the gate, and reports the retry cap', async () => {
    const cfg = tiny({ gate: { threshold: 2e-4, maxRetries: null } }, { eta0: 1.0 });
    const { model, opt, collector, buffer } = parts(cfg);
    const m = await collector.collectStep(model, opt, buffer);
    expect(m.rejects).toBeGreaterThan(0);
    expect(m.retrains).toBeGreaterThan(0);
    expect(m.capHits).toBe(0);
    expect(m.maxAcceptedError).toBeLessThan(2e-4);
    const capped = parts(tiny({ gate: { threshold: 2e-4, maxRetries: 1 } }, { eta0: 1.0 }));
    const c = await capped.collector.collectStep(capped.model, capped.opt, capped.buffer);
    expect(c.capHits).toBeGreaterThan(0);
    expect(c.maxAcceptedError).toBeLessThan(2e-4);
    model.dispose();
    capped.model.dispose();
  });

  it('lengthens dt when accepted errors sit below the lower band edge', async () => {
    const cfg = tiny({ optimizer: { learningRate: 2e-2, clipGlobalNorm: 5 } }, { eta0: 1e-3 });
    const { model, opt, collector, buffer } = parts(cfg);
    const first = await collector.collectStep(model, opt, buffer);
    let last = first;
    for (let i = 0; i < 15; i++) last = await collector.collectStep(model, opt, buffer);
    expect(first.acceptUpdates).toBe(1);
    expect(last.meanDtOverTau).toBeGreaterThan(1.5 * first.meanDtOverTau);
    model.dispose();
  });
});

describe('Part 2 rollouts', () => {
  it('featurize each sample with its own stored history', async () => {
    const cfg = tiny({}, { historyLen: 2 });
    const { model, buffer, collector, opt } = parts(cfg);
    for (let i = 0; i < 4; i++) await collector.collectStep(model, opt, buffer);
    const sample = buffer.get(1);
    const r = rollout(model, sample, 0, cfg);
    expect(r.inputs).toHaveLength(3);
    expect(Array.from(r.inputs[0]!.subarray(featureSize(0)))).toEqual(Array.from(sample.history));
    expect(r.coeffs.every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});

describe('TimestepTrainer', () => {
  it('resumes exactly: state restored mid-run continues to the same digest', async () => {
    const cfg = tiny({ problem: 'figure8' }, { historyLen: 1 });
    const a = new TimestepTrainer(cfg, 9);
    for (let e = 0; e < 3; e++) await a.epoch();
    const b = new TimestepTrainer(cfg, 9);
    await b.epoch();
    const saved = await captureState(b.components());
    const c = new TimestepTrainer(cfg, 9);
    for (const [name, comp] of Object.entries(c.components()))
      await comp.setState(structuredClone(saved[name]!));
    await c.epoch();
    await c.epoch();
    expect(stateDigest(await captureState(c.components()))).toBe(
      stateDigest(await captureState(a.components())),
    );
    expect(c.progress.value.epoch).toBe(3);
    for (const t of [a, b, c]) t.dispose();
  });

  const cfg = tiny({}, { historyLen: 1 });
  describeComponentContract('Collector', {
    create: () => new Collector(cfg, makeProblem('kepler').ic, Rng.fromSeed(3)),
    mutate: async (c) => {
      const { model, opt, buffer } = parts(cfg);
      await (c as Collector).collectStep(model, opt, buffer);
      model.dispose();
    },
  });
  describeComponentContract('ReplayBuffer', {
    create: () => new ReplayBuffer(8, 2, 4),
    mutate: (c) =>
      (c as ReplayBuffer).push(
        [1, 2, 3, 4, 5, 6],
        [0, 1, 0, 0, -1, 0],
        [1, 1],
        [0.5, 0, 0, 1],
        0.01,
      ),
  });
});
