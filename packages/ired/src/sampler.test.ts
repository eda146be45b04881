import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOARD_SIZE } from './encoding.js';
import { generatePuzzles, SATNET_GIVENS } from './generator.js';
import { sampleBoards, type StepEvent } from './sampler.js';
import { cosineSchedule } from './schedule.js';
import { randomParams, tinyConfig } from './testing.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const cfg = tinyConfig();
const schedule = cosineSchedule(cfg.diffusion.landscapes);
const puzzles = generatePuzzles(Rng.fromSeed(11), 3, SATNET_GIVENS);
const quizzes = puzzles.map((p) => p.quiz);
const params = randomParams(cfg, 3, 0.15);

describe('sampleBoards', () => {
  it('calls hooks at every denoise, attempted and final step with per-sample rejection', async () => {
    const events: StepEvent[] = [];
    const r = await sampleBoards(params, quizzes, {
      model: cfg.model,
      schedule,
      optSteps: 2,
      rng: Rng.fromSeed(1),
      hooks: { onStep: (e) => events.push(e) },
    });
    const T = cfg.diffusion.landscapes;
    expect(events).toHaveLength(T * (1 + 2 * 2));
    expect(events.map((e) => e.kind).slice(0, 5)).toEqual([
      'denoise',
      'attempted',
      'final',
      'attempted',
      'final',
    ]);
    expect(events.map((e) => e.landscape).filter((_, i) => i % 5 === 0)).toEqual([3, 2, 1, 0]);
    let accepted = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      expect(e.state.length).toBe(3 * BOARD_SIZE);
      expect(e.energy.length).toBe(3);
      for (const v of e.state) expect(Math.abs(v)).toBeLessThanOrEqual(e.scale * (1 + 1e-6));
      for (let b = 0; b < 3; b++) {
        for (let c = 0; c < 81; c++) {
          const d = quizzes[b]![c]!;
          if (d === 0) continue;
          for (let k = 0; k < 9; k++)
            expect(e.state[b * BOARD_SIZE + c * 9 + k]).toBeCloseTo(
              k === d - 1 ? e.scale : -e.scale,
              5,
            );
        }
      }
      if (e.kind !== 'final') continue;
      const attempted = events[i - 1]!;
      const before = events[i - 2]!;
      expect(e.rejected).toEqual(attempted.rejected);
      for (let b = 0; b < 3; b++) {
        const rejected = attempted.energy[b]! > before.energy[b]!;
        expect(e.rejected[b]).toBe(rejected ? 1 : 0);
        const src = rejected ? before : attempted;
        expect(e.energy[b]).toBe(src.energy[b]);
        expect(e.state.slice(b * BOARD_SIZE, (b + 1) * BOARD_SIZE)).toEqual(
          src.state.slice(b * BOARD_SIZE, (b + 1) * BOARD_SIZE),
        );
        expect(e.energy[b]!).toBeLessThanOrEqual(before.energy[b]!);
        if (!rejected) accepted++;
      }
    }
    expect(Array.from(r.acceptedSteps).reduce((a, b) => a + b, 0)).toBe(accepted);
    for (let b = 0; b < 3; b++)
      for (let c = 0; c < 81; c++)
        if (quizzes[b]![c] !== 0) expect(r.predictions[b]![c]).toBe(quizzes[b]![c]);
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await sampleBoards(params, quizzes, {
      model: cfg.model,
      schedule,
      optSteps: 1,
      rng: Rng.fromSeed(3),
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic per board id, whatever the batch', async () => {
    const opts = { model: cfg.model, schedule, optSteps: 1, rng: Rng.fromSeed(2) };
    const all = await sampleBoards(params, quizzes, opts);
    const one = await sampleBoards(params, [quizzes[2]!], { ...opts, ids: [2] });
    expect(Array.from(one.predictions[0]!)).toEqual(Array.from(all.predictions[2]!));
    expect(one.energies[0]).toBeCloseTo(all.energies[2]!, 4);
  });

  it('keeps the lowest-energy restart per board', async () => {
    const r = await sampleBoards(params, quizzes, {
      model: cfg.model,
      schedule,
      optSteps: 1,
      rng: Rng.fromSeed(4),
      restarts: 3,
    });
    expect(r.restartEnergies).toHaveLength(3);
    for (let b = 0; b < 3; b++) {
      const es = r.restartEnergies.map((e) => e[b]!);
      expect(r.energies[b]).toBe(Math.min(...es));
      expect(r.chosenRestart[b]).toBe(es.indexOf(Math.min(...es)));
    }
    await expect(
      sampleBoards(params, quizzes, {
        model: cfg.model,
        schedule,
        optSteps: 1,
        rng: Rng.fromSeed(4),
        restarts: 0,
      }),
    ).rejects.toThrow(/restarts/);
  });
});
