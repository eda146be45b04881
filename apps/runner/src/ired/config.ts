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
]);
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
