import { readFileSync } from 'node:fs';
import { parseConfig, parseYaml } from '@x/core';
import { z } from 'zod';

/**
 * Settings of the asynchronous logging the JaxARC batched-logging design removed. Each is
 * rejected by name wherever it appears in a logging config, in snake_case or camelCase.
 */
export const REMOVED_LOGGING_KEYS: readonly string[] = [
  'queue_size',
  'worker_threads',
  'batch_size',
  'flush_interval',
  'enable_compression',
  'queueSize',
  'workerThreads',
  'batchSize',
  'flushInterval',
  'enableCompression',
];

const removedHint =
  'was removed with asynchronous logging: the logger itself decides when each sink writes (set sinks.<name>.every instead)';

function rejectRemoved(value: unknown, ctx: z.core.$RefinementCtx<unknown>): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const found = Object.keys(value).filter((k) => REMOVED_LOGGING_KEYS.includes(k));
  if (found.length === 0) return value;
  for (const key of found) {
    ctx.addIssue({ code: 'custom', message: `'${key}' ${removedHint}`, path: [key], input: value });
  }
  const rest: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of found) delete rest[key];
  return rest;
}

/** `every: {steps, seconds}`: a sink receives data when either is reached (both optional). */
export const cadenceSchema = z.strictObject({
  steps: z.number().int().positive().optional(),
  seconds: z.number().positive().optional(),
});
export type Cadence = z.output<typeof cadenceSchema>;

const consoleSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    every: cadenceSchema.default({ seconds: 1 }),
    /** Metrics shown per category in the live view (the rest are counted). */
    maxPerCategory: z.number().int().positive().default(8),
  })
  .prefault({});

const jsonlSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    every: cadenceSchema.default({ steps: 100, seconds: 5 }),
    /** Rotate `metrics.jsonl` / `episodes.jsonl` to `.1.jsonl`, `.2.jsonl`, … past this size. */
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
  })
  .prefault({});

const tensorboardSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    every: cadenceSchema.default({ steps: 100, seconds: 10 }),
    /** Writes the resolved config as a text summary at start. */
    configText: z.boolean().default(true),
  })
  .prefault({});

const svgSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    every: cadenceSchema.default({ seconds: 30 }),
    /** Metrics drawn as line charts (`category/name`; `category/*` for a whole category). */
    charts: z.array(z.string().min(1)).default(['*']),
    /** At most this many pictures are kept under `svg/` (oldest are deleted). */
    maxPictures: z.number().int().positive().default(200),
    /** Points kept per charted metric (older points are thinned). */
    maxPoints: z.number().int().positive().default(2000),
  })
  .prefault({});

const batchedSchema = z.preprocess(
  rejectRemoved,
  z.strictObject({
    enabled: z.boolean().default(true),
    /** Aggregated metrics every N update steps. */
    logFrequency: z.number().int().positive().default(10),
    samplingEnabled: z.boolean().default(true),
    /** Environments sampled (without replacement) at each sampling step. */
    numSamples: z.number().int().positive().default(3),
    /** Sampled episode summaries every N update steps. */
    sampleFrequency: z.number().int().positive().default(50),
    /** Keep sampled environments' initial/final states in episode summaries. */
    includeFullStates: z.boolean().default(false),
    /** Histograms of batch arrays (episode returns, …) for TensorBoard. */
    histograms: z.boolean().default(false),
    logAggregatedRewards: z.boolean().default(true),
    logAggregatedSimilarity: z.boolean().default(true),
    logLossMetrics: z.boolean().default(true),
    logGradientNorms: z.boolean().default(true),
    logEpisodeLengths: z.boolean().default(true),
    logSuccessRates: z.boolean().default(true),
  }),
);

const loggingObject = z.strictObject({
  /** What a `log()` at a step lower than the current one does. Never silent. */
  lowerStep: z.enum(['error', 'warn', 'drop']).default('warn'),
  /** A sink is disabled after this many failures in a row. */
  disableAfter: z.number().int().positive().default(5),
  /** Deadline of `close()` (and of the flush on SIGINT/SIGTERM), seconds. */
  closeTimeoutSeconds: z.number().positive().default(10),
  batched: batchedSchema.prefault({}),
  sinks: z
    .strictObject({
      console: consoleSchema,
      jsonl: jsonlSchema,
      tensorboard: tensorboardSchema,
      svg: svgSchema,
    })
    .prefault({}),
  /** The Weights & Biases sink's section; validated by that sink. */
  wandb: z.unknown().optional(),
});

/**
 * The logging config (the `logging:` section of a pipeline config). Strict: unknown keys are
 * errors; removed asynchronous-logging keys are errors that say so; frequencies and sample
 * counts must be positive. Every field has a default, so `{}` is valid.
 */
export const loggingConfigSchema = z.preprocess(rejectRemoved, loggingObject).prefault({});

export type LoggingConfig = z.output<typeof loggingObject>;
export type BatchedConfig = LoggingConfig['batched'];
export type SinksConfig = LoggingConfig['sinks'];

/**
 * Validates a logging section (throws `INVALID_CONFIG` naming each bad key as `logging.<key>`).
 */
export function parseLoggingConfig(raw: unknown, source?: string): LoggingConfig {
  return parseConfig(wrapped, { logging: raw ?? {} }, source).logging;
}

const wrapped = z.strictObject({ logging: loggingConfigSchema });

/** Parses a logging config from YAML text (the whole document is the `logging` section). */
export function loadLoggingConfigYaml(text: string, source = '<yaml>'): LoggingConfig {
  return parseLoggingConfig(parseYaml(text, source), source);
}

/** Names of the presets shipped with the package (`presets/<name>.yaml`). */
export type LoggingPreset = 'batched';

/** The text of a shipped preset. */
export function loggingPresetYaml(name: LoggingPreset): string {
  return readFileSync(new URL(`../presets/${name}.yaml`, import.meta.url), 'utf8');
}

/** A shipped preset, validated (e.g. `loggingPreset('batched')`). */
export function loggingPreset(name: LoggingPreset): LoggingConfig {
  return loadLoggingConfigYaml(loggingPresetYaml(name), `@x/logging presets/${name}.yaml`);
}

/** Defaults of every logging setting. */
export function defaultLoggingConfig(): LoggingConfig {
  return parseLoggingConfig({});
}
