import { z } from 'zod';
import { PROBLEMS } from './problems.js';

/** Training config of the learned time-step model (validated once with zod, strict objects). */
export const trainConfigSchema = z.strictObject({
  problem: z.enum(PROBLEMS),
  /** Training systems stepped together (item 0 is the problem itself when includeProblem). */
  batch: z.number().int().positive(),
  includeProblem: z.boolean(),
  /** Particles of random Plummer training spheres. */
  plummerN: z.number().int().min(2),
  /**
   * Training systems: `wide`, the problem's whole family; `near`, random systems near the
   * problem's own initial conditions (see randomSystem).
   */
  family: z.enum(['wide', 'near']).default('wide'),
  /** Accepted steps after which a training system is replaced by a fresh random one. */
  resetAfter: z.number().int().positive(),
  model: z.strictObject({
    hidden: z.array(z.number().int().positive()).min(1),
    /** Initial dt/τ (the model starts as the naive rule with this η). */
    eta0: z.number().positive(),
    /** Bound on |ln(dt/τ) − ln η0|. */
    range: z.number().positive(),
    /** History length K (0: analytic features only). */
    historyLen: z.number().int().nonnegative(),
  }),
  optimizer: z.strictObject({
    learningRate: z.number().positive(),
    clipGlobalNorm: z.number().positive(),
  }),
  gate: z.strictObject({
    /** Accept a step when its relative energy error is below this. */
    threshold: z.number().positive(),
    /** Optimizer steps on one state before falling back to halving dt (null: no cap). */
    maxRetries: z.number().int().positive().nullable(),
  }),
  loss: z.strictObject({ eLower: z.number().positive(), eUpper: z.number().positive() }),
  part1: z.strictObject({
    /** Accepted steps per system per epoch. */
    stepsPerEpoch: z.number().int().positive(),
    /** Also take an optimizer step when every item passed but the band loss is non-zero. */
    trainOnAccept: z.boolean(),
  }),
  part2: z.strictObject({
    replaySteps: z.number().int().nonnegative(),
    batch: z.number().int().positive(),
    rollout: z.number().int().positive(),
    bufferSize: z.number().int().positive(),
    minBuffer: z.number().int().positive(),
  }),
  /** Use the time-symmetric learned rule dt = ½[h(z_n) + h(z_{n+1})]. */
  symmetric: z.boolean(),
  /**
   * Train on the work–precision objective over long rollouts instead of Part 1/Part 2 (null: the
   * band-loss phases). Each epoch takes `updatesPerEpoch` optimizer steps, each on `systems` fresh
   * seeded random systems of the family rolled out for `startSteps · 2^⌊epoch/doubleEvery⌋` steps
   * (at most `maxSteps`).
   */
  workPrecision: z
    .strictObject({
      updatesPerEpoch: z.number().int().positive(),
      systems: z.number().int().positive(),
      startSteps: z.number().int().positive(),
      maxSteps: z.number().int().positive(),
      doubleEvery: z.number().int().positive(),
      /** The benchmark's tolerance on max |ΔE/E0|. */
      tolerance: z.number().positive(),
      /** Exponent of the soft maximum over the rollout's errors. */
      power: z.number().min(1),
      /** Steps a dt's tangent is carried before its energy derivative is frozen. */
      window: z.number().int().positive(),
    })
    .nullable()
    .default(null),
});

export type TrainConfig = z.output<typeof trainConfigSchema>;

/** Embedded defaults of {@link TrainConfig}. */
export const defaultTrainConfig: TrainConfig = {
  problem: 'kepler',
  batch: 4,
  includeProblem: true,
  plummerN: 100,
  family: 'wide',
  resetAfter: 400,
  model: { hidden: [32, 32], eta0: 0.02, range: 4, historyLen: 0 },
  optimizer: { learningRate: 2e-3, clipGlobalNorm: 5 },
  gate: { threshold: 2e-4, maxRetries: 200 },
  loss: { eLower: 1e-6, eUpper: 1e-4 },
  part1: { stepsPerEpoch: 16, trainOnAccept: true },
  part2: { replaySteps: 4, batch: 8, rollout: 8, bufferSize: 1024, minBuffer: 8 },
  symmetric: false,
  workPrecision: null,
};

/** Work–precision settings used when a config enables them without its own (`workPrecision`). */
export const defaultWorkPrecision: NonNullable<TrainConfig['workPrecision']> = {
  updatesPerEpoch: 4,
  systems: 4,
  startSteps: 64,
  maxSteps: 512,
  doubleEvery: 10,
  tolerance: 1e-4,
  power: 8,
  window: 32,
};
