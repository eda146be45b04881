import { parseConfig } from '@x/core';
import { z } from 'zod';

const odd = (n: number) => n % 2 === 1;

/** The energy model's architecture. */
export const modelSchema = z.strictObject({
  /** Width of the stem and residual blocks (paper: 384). */
  channels: z.number().int().positive(),
  /** Residual blocks (paper: 6). */
  blocks: z.number().int().nonnegative(),
  /** Kernel of the residual blocks' convolutions (paper: 5). */
  kernel: z.number().int().positive().refine(odd, 'expected an odd kernel size'),
  /** Kernel of the stem convolution (paper: 3). */
  stemKernel: z.number().int().positive().refine(odd, 'expected an odd kernel size'),
  /** Kernel of the output convolution (code: 1; the paper's table says 3). */
  outKernel: z.number().int().positive().refine(odd, 'expected an odd kernel size'),
  /** Width of the landscape embedding MLP (paper: 64). */
  timeDim: z.number().int().positive(),
  /** Width of the sinusoidal landscape features (paper: 128; even). */
  fourierDim: z
    .number()
    .int()
    .positive()
    .refine((n) => n % 2 === 0 && n >= 4, 'expected an even number >= 4'),
});

/** The diffusion over energy landscapes and the training loss. */
export const diffusionSchema = z.strictObject({
  /** Number of energy landscapes T (paper: 10). */
  landscapes: z.number().int().min(2),
  /** Gradient steps per landscape at inference (paper: 20 for Sudoku). */
  optSteps: z.number().int().nonnegative(),
  /** Weight of the contrastive term (paper: 0.05 for Sudoku; 0 turns it off). */
  contrastiveWeight: z.number().nonnegative(),
  /** Probability that a cell of a negative gets a random digit (paper: 0.05). */
  negativeCorruption: z.number().min(0).max(1),
});

/** Optimiser and EMA settings. */
export const trainSchema = z.strictObject({
  batchSize: z.number().int().positive(),
  /**
   * Boards per forward/backward pass: the batch's gradients are accumulated over micro-batches of
   * this size (weighted by their share of the batch), which equals the full batch within float
   * rounding and holds only one micro-batch's activations. Default: the whole batch at once.
   * On the wasm backend with several threads the micro-batches run in parallel, one gradient
   * worker thread per thread; results do not depend on the thread count.
   */
  microBatch: z.number().int().positive().optional(),
  learningRate: z.number().positive(),
  beta1: z.number().min(0).max(1),
  beta2: z.number().min(0).max(1),
  /** Global gradient-norm clip (paper: 1.0). */
  clipNorm: z.number().positive(),
  ema: z.strictObject({
    /** Maximum EMA decay (paper: 0.995). */
    decay: z.number().min(0).max(1),
    /** Update the EMA every this many steps (reference trainer: 10). */
    every: z.number().int().positive(),
    /** Until this step the EMA copies the weights instead of averaging (reference: 100). */
    startAfter: z.number().int().nonnegative(),
  }),
});

const givens = {
  minGivens: z.number().int().min(17).max(81),
  maxGivens: z.number().int().min(17).max(81),
};

/** Where training and validation puzzles come from. */
export const dataSchema = z.strictObject({
  train: z.strictObject({
    /** An RRN CSV file of training puzzles; null draws fresh generated puzzles every step. */
    csv: z.string().min(1).nullable(),
    ...givens,
  }),
  val: z.strictObject({
    /** Held-out generated puzzles scored with EMA weights every `every` steps (0: never). */
    count: z.number().int().nonnegative(),
    every: z.number().int().nonnegative(),
    /** Restarts used for validation sampling. */
    restarts: z.number().int().positive(),
    ...givens,
  }),
});

/** Test-time sampling defaults. */
export const sampleSchema = z.strictObject({
  /** Independent starts per puzzle; the lowest final energy wins. */
  restarts: z.number().int().positive(),
  /** Boards solved together. */
  batchSize: z.number().int().positive(),
  /**
   * Reverse-process noise scale (absent or 0: the deterministic reverse process). At each
   * landscape t > 0 the denoising step adds `noise`·σ_t·ε, σ_t the DDPM posterior standard
   * deviation; 1 is the reference code's `with_noise`. Makes restarts differ, so the
   * lowest-energy choice among them has something to choose from.
   */
  noise: z.number().min(0).optional(),
});

/** The `@x/ired` part of a run config (the runner adds seed, steps, saveEvery, logging). */
export const iredConfigShape = {
  model: modelSchema,
  diffusion: diffusionSchema,
  train: trainSchema,
  data: dataSchema,
  sample: sampleSchema,
};

/** The IRED config as one strict schema. */
export const iredConfigSchema = z.strictObject(iredConfigShape).superRefine((c, ctx) => {
  for (const part of ['train', 'val'] as const) {
    if (c.data[part].minGivens > c.data[part].maxGivens) {
      ctx.addIssue({
        code: 'custom',
        path: ['data', part, 'minGivens'],
        message: `minGivens ${c.data[part].minGivens} exceeds maxGivens ${c.data[part].maxGivens}`,
      });
    }
  }
});

export type ModelConfig = z.output<typeof modelSchema>;
export type DiffusionConfig = z.output<typeof diffusionSchema>;
export type TrainConfig = z.output<typeof trainSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type SampleConfig = z.output<typeof sampleSchema>;
export type IredConfig = z.output<typeof iredConfigSchema>;

const common = {
  diffusion: { landscapes: 10, optSteps: 20, contrastiveWeight: 0.05, negativeCorruption: 0.05 },
  train: {
    batchSize: 64,
    learningRate: 1e-4,
    beta1: 0.9,
    beta2: 0.99,
    clipNorm: 1.0,
    ema: { decay: 0.995, every: 10, startAfter: 100 },
  },
  data: {
    train: { csv: null, minGivens: 31, maxGivens: 42 },
    val: { count: 0, every: 0, restarts: 1, minGivens: 31, maxGivens: 42 },
  },
  sample: { restarts: 1, batchSize: 16 },
};

/**
 * The paper's configuration: 384 channels, 6 residual blocks with 5×5 convolutions, batch 64,
 * Adam 1e-4 (betas 0.9, 0.99), clip 1.0, EMA 0.995 every 10 steps.
 */
export const paperPreset: IredConfig = {
  model: {
    channels: 384,
    blocks: 6,
    kernel: 5,
    stemKernel: 3,
    outKernel: 1,
    timeDim: 64,
    fourierDim: 128,
  },
  ...structuredClone(common),
};

/**
 * The CPU default, sized to learn as much as possible in 30 minutes on 2 cores: the paper's
 * architecture and loss at reduced width/depth and batch, and a faster EMA.
 */
export const cpuPreset: IredConfig = {
  model: {
    channels: 32,
    blocks: 2,
    kernel: 5,
    stemKernel: 3,
    outKernel: 1,
    timeDim: 64,
    fourierDim: 128,
  },
  ...structuredClone(common),
  train: {
    ...structuredClone(common.train),
    // One batch on one heap: since conv2d became one kernel with lazy gradients, the per-op
    // threads scale this model's step 1.6-1.9x on 2 cores, ahead of two micro-batches on
    // gradient workers (set train.microBatch for those; at 1 thread they cost ~10-20% more CPU).
    batchSize: 16,
    learningRate: 1e-3,
    ema: { decay: 0.995, every: 1, startAfter: 100 },
  },
};

/** Named presets. */
export const presets = { cpu: cpuPreset, paper: paperPreset } as const;
export type PresetName = keyof typeof presets;

/** Validates an IRED config once (strict: unknown keys are rejected). */
export function parseIredConfig(value: unknown, source?: string): IredConfig {
  return parseConfig(iredConfigSchema, value, source);
}
