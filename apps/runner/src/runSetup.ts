import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { XError } from '@x/core';
import { stringify } from 'yaml';
import { z } from 'zod';
import { writeFileAtomic } from './atomicWrite.js';
import type { CommandContext, FlagSpec, FlagValues } from './command.js';
import { oneOf, optInt, optNum, str, timestamp } from './flags.js';
import { collectProvenance, type Provenance } from './provenance.js';
import { bySchema, resolveRunConfig } from './resolveConfig.js';
import { acquireRunLock, type RunLock } from './runLock.js';

/** Flags shared by every `train` command (see CONTRACT.md). */
export const trainFlags: FlagSpec = {
  config: {
    type: 'string',
    arg: 'file.yaml',
    description: 'config file merged over the embedded defaults',
  },
  set: {
    type: 'string',
    multiple: true,
    arg: 'dotted.key=value',
    description: 'override one config value (repeatable)',
  },
  out: {
    type: 'string',
    arg: 'run-dir',
    description: 'run directory',
    default: 'runs/<pipeline>-<UTC timestamp>',
  },
  steps: {
    type: 'string',
    arg: 'n',
    description: 'total training steps of the run, counted from step 0',
  },
  'save-every': {
    type: 'string',
    arg: 'n',
    description: 'checkpoint cadence in steps (a final checkpoint is always written)',
  },
  'save-every-seconds': {
    type: 'string',
    arg: 't',
    description:
      'also checkpoint when t seconds passed since the last one (checkpoint.everySeconds)',
  },
  'keep-last': {
    type: 'string',
    arg: 'n',
    description: 'keep only the newest n checkpoints (checkpoint.keepLast)',
    default: 'all',
  },
  'keep-best': {
    type: 'string',
    arg: 'metric:min|max[:k]',
    description:
      'also keep the k best checkpoints by a recorded metric, e.g. loss:min (checkpoint.keepBest)',
  },
  resume: {
    type: 'string',
    arg: 'run-dir',
    description: 'continue the run from its newest valid checkpoint, up to --steps',
  },
  seed: { type: 'string', arg: 'n', description: "the run's root seed" },
  backend: {
    type: 'string',
    arg: 'auto|tensorflow|wasm|cpu',
    description: 'tensor backend (also env X_BACKEND)',
    default: 'auto',
  },
  quiet: { type: 'boolean', description: 'no live console view; errors still go to stderr' },
};

/** The checkpoint policy (like Lightning's ModelCheckpoint): cadence and retention. */
export const checkpointPolicySchema = z
  .strictObject({
    /** Also save when this many seconds passed since the last checkpoint. */
    everySeconds: z.number().positive().optional(),
    /** Keep the newest N checkpoints (default: all). */
    keepLast: z.number().int().positive().optional(),
    /** Keep the K best checkpoints by a metric recorded at save time. */
    keepBest: z
      .strictObject({
        metric: z.string().min(1),
        mode: z.enum(['min', 'max']),
        k: z.number().int().positive().default(1),
      })
      .optional(),
  })
  .prefault({});
export type CheckpointPolicy = z.output<typeof checkpointPolicySchema>;

/** The fields every pipeline config has, beside its own. */
export const runFieldsSchema = {
  seed: z.number().int().nonnegative(),
  steps: z.number().int().positive(),
  saveEvery: z.number().int().positive(),
  checkpoint: checkpointPolicySchema,
};

export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

/** A resolved `train` invocation; the run directory is locked for this process. */
export interface TrainSetup<C> {
  config: C;
  runDir: string;
  resume: boolean;
  backend: BackendRequest;
  /** `--threads`: wasm threads (undefined: X_THREADS, else every core). */
  threads?: number | undefined;
  quiet: boolean;
  lock: RunLock;
  provenance: Provenance;
}

/** The tensor backend asked for by `--backend` or `X_BACKEND` (flag wins). */
export function backendFlag(values: FlagValues): BackendRequest {
  if (str(values, 'backend') === undefined && process.env['X_BACKEND'] !== undefined) {
    const env = process.env['X_BACKEND'];
    if (!(BACKENDS as readonly string[]).includes(env))
      throw new XError(
        'INVALID_INPUT',
        `X_BACKEND: expected one of ${BACKENDS.join(', ')}, got '${env}'`,
      );
    return env as BackendRequest;
  }
  return oneOf(values, 'backend', BACKENDS, 'auto');
}

/** `--threads <n>` (wasm backend threads), or undefined: then X_THREADS, else every core. */
export function threadsFlag(values: FlagValues): number | undefined {
  return optInt(values, 'threads', 1);
}

function keepBestFlag(values: FlagValues): CheckpointPolicy['keepBest'] {
  const raw = str(values, 'keep-best');
  if (raw === undefined) return undefined;
  const m = /^([^:]+):(min|max)(?::(\d+))?$/.exec(raw.trim());
  if (m === null || Number(m[3] ?? 1) < 1)
    throw new XError(
      'INVALID_INPUT',
      `--keep-best: expected <metric>:<min|max>[:<k>], e.g. loss:min or val/boardAccuracy:max:3, got '${raw}'`,
    );
  return { metric: m[1] as string, mode: m[2] as 'min' | 'max', k: Number(m[3] ?? 1) };
}

/** The config patch of the run flags (`--seed`, `--steps`, `--save-every`, checkpoint policy). */
function runFlagsPatch(values: FlagValues): Record<string, unknown> {
  const checkpoint = {
    everySeconds: optNum(
      values,
      'save-every-seconds',
      (n) => n > 0,
      'a positive number of seconds',
    ),
    keepLast: optInt(values, 'keep-last', 1),
    keepBest: keepBestFlag(values),
  };
  return {
    seed: optInt(values, 'seed', 0),
    steps: optInt(values, 'steps', 1),
    saveEvery: optInt(values, 'save-every', 1),
    ...(Object.values(checkpoint).some((v) => v !== undefined)
      ? {
          checkpoint: Object.fromEntries(
            Object.entries(checkpoint).filter(([, v]) => v !== undefined),
          ),
        }
      : {}),
  };
}

/**
 * Resolves a `train` command's config through the one config path (embedded defaults,
 * `--config`, `--set`, then the run flags), validates it once, takes the run directory's lock and
 * writes `config.yaml` with the run's provenance. With `--resume`, the run's own `config.yaml` is
 * the base and only `--steps`, `--save-every`, the checkpoint policy, `--backend` and `--quiet`
 * may change.
 */
export function resolveTrainSetup<S extends z.ZodType>(
  ctx: CommandContext,
  pipeline: string,
  schema: S,
  defaults: unknown,
): TrainSetup<z.output<S>> {
  const v = ctx.values;
  const flags = runFlagsPatch(v);
  const backend = backendFlag(v);
  const resumeDir = str(v, 'resume');
  let runDir: string;
  let base: string | undefined;
  if (resumeDir !== undefined) {
    runDir = resolve(ctx.cwd, resumeDir);
    base = join(runDir, 'config.yaml');
    if (!existsSync(base))
      throw new XError(
        'INVALID_INPUT',
        `--resume ${resumeDir}: no config.yaml in ${runDir}; not a run directory`,
      );
    for (const f of ['config', 'set', 'seed', 'out'] as const) {
      if (v[f] !== undefined) {
        throw new XError(
          'INVALID_INPUT',
          `--${f} cannot be combined with --resume: a resumed run keeps its config (${base}); only --steps, --save-every, the checkpoint policy, --backend and --quiet may change`,
        );
      }
    }
  } else {
    runDir = resolve(ctx.cwd, str(v, 'out') ?? join('runs', `${pipeline}-${timestamp()}`));
  }
  const { config } = resolveRunConfig({
    validate: bySchema(schema),
    defaults,
    values: v,
    cwd: ctx.cwd,
    flags,
    base,
  });
  const prepared = prepareRunDir(runDir, pipeline, config, backend, resumeDir !== undefined);
  return {
    config,
    runDir,
    resume: resumeDir !== undefined,
    backend,
    threads: threadsFlag(v),
    quiet: ctx.quiet,
    ...prepared,
  };
}

/**
 * Creates and locks a run directory and writes its `config.yaml`. A fresh run refuses a
 * directory that already holds checkpoints.
 */
export function prepareRunDir(
  runDir: string,
  pipeline: string,
  config: unknown,
  backend: string,
  resume: boolean,
): { lock: RunLock; provenance: Provenance } {
  if (existsSync(runDir) && !statSync(runDir).isDirectory())
    throw new XError('INVALID_INPUT', `--out ${runDir} is a file, not a run directory`);
  mkdirSync(runDir, { recursive: true });
  const lock = acquireRunLock(runDir, `${pipeline} train`);
  try {
    if (!resume && existsSync(join(runDir, 'checkpoints'))) {
      throw new XError(
        'INVALID_INPUT',
        `--out ${runDir} already holds a run; use --resume ${runDir} to continue it or choose another --out`,
      );
    }
    const provenance = collectProvenance(backend);
    writeConfig(runDir, pipeline, config, provenance);
    return { lock, provenance };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Writes `<run-dir>/config.yaml` (the resolved config with its root seed, then the provenance). */
export function writeConfig(
  runDir: string,
  pipeline: string,
  config: unknown,
  provenance?: Provenance,
): void {
  const text = `# resolved config of a '${pipeline}' run (defaults + --config + --set + flags)\n${stringify(config)}${
    provenance === undefined
      ? ''
      : `# where the run came from (not part of the config; ignored on --resume)\n${stringify({ provenance })}`
  }`;
  writeFileAtomic(join(runDir, 'config.yaml'), text);
}
