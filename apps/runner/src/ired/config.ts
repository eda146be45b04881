import { iredConfigShape, presets, type IredConfig, type PresetName } from '@x/ired';
import { loggingConfigSchema } from '@x/logging';
import { XError } from '@x/core';
import { z } from 'zod';
import { runFieldsSchema } from '../runSetup.js';

/** The `runner ired train` config: the run fields, the IRED config and the logging section. */
export const iredRunSchema = z.strictObject({
  ...runFieldsSchema,
  ...iredConfigShape,
  logging: loggingConfigSchema,
});
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
