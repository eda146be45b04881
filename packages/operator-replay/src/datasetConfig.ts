import { createHash } from 'node:crypto';
import { XError, parseConfig } from '@x/core';
import { z } from 'zod';
import {
  DEFAULT_PARAMETER_SPACE,
  PARAMETER_NAMES,
  parameterSpecSchema,
  validateSpace,
  type ParameterSpace,
} from './paramSpace.js';

const spaceOverrides = z.strictObject(
  Object.fromEntries(PARAMETER_NAMES.map((n) => [n, parameterSpecSchema.optional()])) as Record<
    (typeof PARAMETER_NAMES)[number],
    z.ZodOptional<typeof parameterSpecSchema>
  >,
);

/** Schema of a dataset config (strict: unknown keys are rejected). */
export const datasetConfigSchema = z.strictObject({
  /** Root seed of the dataset: unit-cube samples and (through the dataset id) every stream. */
  rootSeed: z.union([z.number().int().nonnegative(), z.string().min(1)]).default(0),
  /** Dataset id; derived from the rest of the config when omitted. */
  datasetId: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
  /** Timesteps per trajectory, t = 0 being the initial condition. */
  timesteps: z.number().int().min(2).default(16),
  /** Noise realizations per operator. */
  realizations: z.number().int().min(1).default(3),
  /** Field channels. */
  channels: z.number().int().min(1).default(3),
  /** Period (in steps) of the `periodic` noise schedule. */
  noisePeriod: z.number().int().min(1).default(8),
  /** Length scale of the initial condition's random field, as a fraction of the grid. */
  icCorrelation: z.number().positive().max(0.5).default(0.1),
  /** Overrides of parameter ranges; omitted parameters keep the defaults. */
  parameters: spaceOverrides.default({}),
  /** Families extracted inline during generation. */
  inlineFamilies: z.array(z.string()).default(['summary']),
  /** Operators per HDF5 chunk. */
  chunkSize: z.number().int().min(1).default(16),
  /** gzip level of every dataset. */
  gzipLevel: z.number().int().min(0).max(9).default(4),
});

/** A dataset config as written by users (defaults optional). */
export type DatasetConfigInput = z.input<typeof datasetConfigSchema>;

/** A resolved dataset config: every default filled in, the full parameter space and the id. */
export interface DatasetConfig extends Omit<z.output<typeof datasetConfigSchema>, 'parameters'> {
  datasetId: string;
  parameters: ParameterSpace;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Validates a dataset config once (zod, strict) and resolves it: defaults, the full 14-parameter
 * space, and the dataset id (SHA-256 of the canonical config when not given).
 *
 * @example
 * const cfg = resolveDatasetConfig({ rootSeed: 7, timesteps: 8 });
 */
export function resolveDatasetConfig(input: unknown, source = 'dataset config'): DatasetConfig {
  const parsed = parseConfig(datasetConfigSchema, input ?? {}, source);
  const parameters = validateSpace({
    ...DEFAULT_PARAMETER_SPACE,
    ...parsed.parameters,
  });
  const { datasetId, ...rest } = parsed;
  const body = { ...rest, parameters };
  const id =
    datasetId ?? `ds-${createHash('sha256').update(canonical(body)).digest('hex').slice(0, 16)}`;
  return { ...body, datasetId: id };
}

/** The config as canonical JSON (sorted keys), as stored in the file's `config` attribute. */
export function configToJson(config: DatasetConfig): string {
  return canonical(config);
}

/** Reads a config back from its stored JSON. */
export function configFromJson(json: string, where: string): DatasetConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new XError('INVALID_INPUT', `${where}: the config attribute is not JSON`, { cause: err });
  }
  return resolveDatasetConfig(raw, where);
}
