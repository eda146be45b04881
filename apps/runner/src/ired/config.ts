import { totalmem } from 'node:os';
import { iredConfigSchema, presets, type IredConfig, type PresetName } from '@x/ired';
import { XError } from '@x/core';
import type { z } from 'zod';
import { composeRunSchema, runLoggingSchema } from '../resolveConfig.js';
import { runFieldsSchema } from '../runSetup.js';

/**
 * The `runner ired train` config: the run fields, the IRED config (with its cross-field checks,
 * e.g. minGivens ≤ maxGivens) and the logging section.
 */
export const iredRunSchema = composeRunSchema({ ...runFieldsSchema, logging: runLoggingSchema }, [
  iredConfigSchema,
]).superRefine((c, ctx) => {
  // Checked before anything is written: a batch whose activations cannot fit would otherwise
  // grind through allocation until the process dies.
  const have = totalmem();
  const batch = c.train.batchSize * BATCH_BYTES_PER_BOARD;
  if (batch > have)
    ctx.addIssue({
      code: 'custom',
      path: ['train', 'batchSize'],
      message: `one batch of ${c.train.batchSize} boards needs at least ${gib(batch)} (boards, noise and targets as float32) but this machine has ${gib(have)} of memory`,
    });
  const boards = c.train.microBatch ?? c.train.batchSize;
  const need = boards * stepBytesPerBoard(c.model);
  if (batch <= have && need > have)
    ctx.addIssue({
      code: 'custom',
      path: ['train', c.train.microBatch === undefined ? 'batchSize' : 'microBatch'],
      message: `one training step keeps at least ${gib(need)} of activations (${boards} boards × ${gib(stepBytesPerBoard(c.model))} at ${c.model.channels} channels, ${c.model.blocks} blocks) but this machine has ${gib(have)} of memory; lower it or set train.microBatch`,
    });
});

/** Bytes of one board in a training batch: the one-hot board, its noise and its target. */
const BATCH_BYTES_PER_BOARD = 3 * 729 * 4;

/**
 * A lower bound on the bytes one training step keeps per board: the input, pre- and
 * post-activation of every convolution (two per block, plus stem and head), kept twice for the
 * loss on ∇ₓE (double backprop), at 81 cells of float32.
 */
function stepBytesPerBoard(model: { channels: number; blocks: number }): number {
  return 4 * 81 * model.channels * (12 * model.blocks + 4);
}

const gib = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export type IredRunConfig = z.output<typeof iredRunSchema>;

/** Embedded defaults of `runner ired train` for a preset (default `cpu`). */
export function iredRunDefaults(preset: string = 'cpu'): Record<string, unknown> {
  if (!(preset in presets))
    throw new XError(
      'INVALID_INPUT',
      `--preset: expected one of ${Object.keys(presets).join(', ')}, got '${preset}'`,
    );
  return {
    seed: 0,
    steps: 2000,
    saveEvery: 200,
    ...structuredClone(presets[preset as PresetName]),
  };
}

/** The IRED part of a run config (what the package and the checkpoint metadata need). */
export function iredPart(c: IredRunConfig): IredConfig {
  return { model: c.model, diffusion: c.diffusion, train: c.train, data: c.data, sample: c.sample };
}
