import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@x/core';
import { initBackend } from '@x/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOARD_SIZE } from './encoding.js';
import { generatePuzzles, SATNET_GIVENS } from './generator.js';
import {
  lowestEnergyRestart,
  reverseNoiseStd,
  sampleBoards,
  type StepEvent,
  voteAnswers,
} from './sampler.js';
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

  it('reverse-process noise: same seed gives the same trajectories, restarts differ, batching does not matter', async () => {
    const opts = {
      model: cfg.model,
      schedule,
      optSteps: 1,
      restarts: 3,
      noise: 1,
      rng: Rng.fromSeed(5),
    };
    const a = await sampleBoards(params, quizzes, opts);
    const b = await sampleBoards(params, quizzes, opts);
    expect(b.restartEnergies).toEqual(a.restartEnergies);
    expect(b.restartPredictions).toEqual(a.restartPredictions);
    // Different restarts draw different noise and end at different states.
    for (let q = 0; q < 3; q++) {
      const es = a.restartEnergies.map((e) => e[q]!);
      expect(new Set(es).size).toBe(3);
    }
    // The noise changes the trajectory (same initial draws, noise 0).
    const quiet = await sampleBoards(params, quizzes, { ...opts, noise: 0 });
    expect(quiet.restartEnergies[0]).not.toEqual(a.restartEnergies[0]);
    // A board's restarts do not depend on the other boards of the batch or on the pass
    // structure (hooks run one restart per pass).
    const one = await sampleBoards(params, [quizzes[1]!], { ...opts, ids: [1] });
    const hooked = await sampleBoards(params, quizzes, { ...opts, hooks: { onStep: () => {} } });
    for (let r = 0; r < 3; r++) {
      expect(Array.from(one.restartPredictions[r]![0]!)).toEqual(
        Array.from(a.restartPredictions[r]![1]!),
      );
      expect(one.restartEnergies[r]![0]).toBeCloseTo(a.restartEnergies[r]![1]!, 4);
      expect(hooked.restartPredictions[r]).toEqual(a.restartPredictions[r]);
      for (let q = 0; q < 3; q++)
        expect(hooked.restartEnergies[r]![q]).toBeCloseTo(a.restartEnergies[r]![q]!, 4);
    }
    await expect(sampleBoards(params, quizzes, { ...opts, noise: -1 })).rejects.toThrow(/noise/);
  });

  it('adds noise after the denoising step of every landscape but the last', async () => {
    const denoised = async (noise: number) => {
      const states: Float32Array[] = [];
      await sampleBoards(params, [quizzes[0]!], {
        model: cfg.model,
        schedule,
        optSteps: 0,
        noise,
        rng: Rng.fromSeed(6),
        hooks: { onStep: (e) => void (e.kind === 'denoise' && states.push(e.state)) },
      });
      return states;
    };
    const plain = await denoised(0);
    const noisy = await denoised(1);
    expect(plain).toHaveLength(cfg.diffusion.landscapes);
    // First landscape (t = T−1): same input, so the difference is exactly σ_t·ε on blank cells.
    const t = cfg.diffusion.landscapes - 1;
    const eps = new Float32Array(BOARD_SIZE);
    const stream = Rng.fromSeed(6).stream('noise', 0, 0, t);
    for (let i = 0; i < BOARD_SIZE; i++) eps[i] = stream.normal();
    const sigma = reverseNoiseStd(schedule, t);
    for (let c = 0; c < 81; c++) {
      for (let k = 0; k < 9; k++) {
        const i = c * 9 + k;
        const diff = noisy[0]![i]! - plain[0]![i]!;
        expect(diff).toBeCloseTo(quizzes[0]![c] === 0 ? sigma * eps[i]! : 0, 4);
      }
    }
    expect(reverseNoiseStd(schedule, 0)).toBe(0);
    const ac = schedule.alphasCumprod;
    expect(reverseNoiseStd(schedule, 2)).toBeCloseTo(
      Math.sqrt((schedule.betas[2]! * (1 - ac[1]!)) / (1 - ac[2]!)),
      12,
    );
  });
});

describe('lowestEnergyRestart', () => {
  const e = [
    Float32Array.of(3, 1, 2, NaN),
    Float32Array.of(2, 1, 5, 4),
    Float32Array.of(1, 0, 2, 3),
  ];
  it('picks the lowest final energy among the first k restarts; ties go to the earlier one', () => {
    expect(lowestEnergyRestart(e)).toEqual([2, 2, 0, 2]);
    expect(lowestEnergyRestart(e, 2)).toEqual([1, 0, 0, 1]);
    expect(lowestEnergyRestart(e, 1)).toEqual([0, 0, 0, 0]);
  });
  it('rejects a k outside 1..restarts', () => {
    expect(() => lowestEnergyRestart(e, 0)).toThrow(/k must be/);
    expect(() => lowestEnergyRestart(e, 4)).toThrow(/k must be/);
  });
});

describe('voteAnswers', () => {
  /** A board whose first cells are `head` and the rest 5. */
  const board = (...head: number[]) => Uint8Array.from({ length: 81 }, (_, i) => head[i] ?? 5);
  // [restart][board]: one board, four restarts.
  const preds = [[board(1, 2, 3)], [board(1, 4, 6)], [board(7, 4, 3)], [board(8, 9, 6)]];
  it('takes each cell by plurality over the first k restarts, whatever their energies', () => {
    const e = [Float32Array.of(9), Float32Array.of(8), Float32Array.of(7), Float32Array.of(0)];
    const [g] = voteAnswers(preds, e);
    // cell 0: 1 twice; cell 1: 4 twice; cell 2: 3 and 6 twice each, tie to restart 3's 6 (lowest energy).
    expect(Array.from((g as Uint8Array).subarray(0, 4))).toEqual([1, 4, 6, 5]);
    expect(g).not.toEqual(preds[lowestEnergyRestart(e)[0] as number]?.[0]);
  });
  it('breaks a tie by the lowest-energy restart among the tied ones, NaN last, then the earlier', () => {
    const two = [Float32Array.of(NaN), Float32Array.of(3)];
    expect(Array.from((voteAnswers(preds, two, 2)[0] as Uint8Array).subarray(0, 3))).toEqual([
      1, 4, 6,
    ]);
    const equal = [Float32Array.of(1), Float32Array.of(1)];
    expect(Array.from((voteAnswers(preds, equal, 2)[0] as Uint8Array).subarray(0, 3))).toEqual([
      1, 2, 3,
    ]);
  });
  it('with one restart is that restart, and rejects a k outside 1..restarts', () => {
    expect(voteAnswers(preds, [Float32Array.of(0)], 1)).toEqual(preds[0]);
    expect(() => voteAnswers(preds, [Float32Array.of(0)], 2)).toThrow(/k must be/);
    expect(() => voteAnswers(preds, [Float32Array.of(0)], 0)).toThrow(/k must be/);
  });
});
