import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { XError, applyOverrides, deepMerge, loadYamlFile, parseConfig, parseYaml } from '@x/core';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { CommandContext, FlagSpec } from './command.js';

/** Flags shared by every `train` command (see CONTRACT.md). */
export const trainFlags: FlagSpec = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  out: { type: 'string' },
  steps: { type: 'string' },
  'save-every': { type: 'string' },
  resume: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  quiet: { type: 'boolean' },
};

export const trainFlagsHelp = `  --config <file.yaml>       config file (embedded defaults otherwise)
  --set <dotted.key=value>   override one config value (repeatable)
  --out <run-dir>            run directory (default runs/<pipeline>-<UTC timestamp>)
  --steps <n>                total optimizer steps of the run, counted from step 0
  --save-every <n>           checkpoint cadence in steps (a final checkpoint is always written)
  --resume <run-dir>         continue the run from its newest valid checkpoint, up to --steps
  --seed <n>                 the run's root seed
  --backend <auto|tensorflow|wasm|cpu>  tensor backend (default auto; env X_BACKEND)
  --quiet                    no live console view`;

/** The fields every pipeline config has, beside its own. */
export const runFieldsSchema = {
  seed: z.number().int().nonnegative(),
  steps: z.number().int().positive(),
  saveEvery: z.number().int().positive(),
};

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

/** A resolved `train` invocation. */
export interface TrainSetup<C> {
  config: C;
  runDir: string;
  resume: boolean;
  backend: BackendRequest;
  quiet: boolean;
}

function intFlag(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new XError('INVALID_INPUT', `--${name}: expected an integer >= ${min}, got '${raw}'`);
  }
  return n;
}

/** The tensor backend asked for by `--backend` or `X_BACKEND` (flag wins). */
export function backendFlag(values: CommandContext['values']): BackendRequest {
  const raw = (values['backend'] as string | undefined) ?? process.env['X_BACKEND'] ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(raw)) {
    const src = values['backend'] === undefined ? 'X_BACKEND' : '--backend';
    throw new XError(
      'INVALID_INPUT',
      `${src}: expected one of ${BACKENDS.join(', ')}, got '${raw}'`,
    );
  }
  return raw as BackendRequest;
}

function timestamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Resolves config (embedded defaults, `--config`, `--set`, then `--seed/--steps/--save-every`),
 * validates it once, creates the run directory and writes `config.yaml`. With `--resume`, the
 * run's own `config.yaml` is the base and only `--steps`, `--save-every`, `--backend` and
 * `--quiet` may change.
 */
export function resolveTrainSetup<S extends z.ZodType>(
  ctx: CommandContext,
  pipeline: string,
  schema: S,
  defaults: unknown,
): TrainSetup<z.output<S>> {
  const v = ctx.values;
  const flagsPatch: Record<string, number> = {};
  const seed = intFlag('seed', v['seed'] as string | undefined, 0);
  const steps = intFlag('steps', v['steps'] as string | undefined, 1);
  const saveEvery = intFlag('save-every', v['save-every'] as string | undefined, 1);
  if (seed !== undefined) flagsPatch['seed'] = seed;
  if (steps !== undefined) flagsPatch['steps'] = steps;
  if (saveEvery !== undefined) flagsPatch['saveEvery'] = saveEvery;
  const backend = backendFlag(v);
  const resumeDir = v['resume'] as string | undefined;

  let raw: unknown;
  let runDir: string;
  let source: string;
  if (resumeDir !== undefined) {
    runDir = resolve(ctx.cwd, resumeDir);
    const file = join(runDir, 'config.yaml');
    if (!existsSync(file))
      throw new XError(
        'INVALID_INPUT',
        `--resume ${resumeDir}: no config.yaml in ${runDir}; not a run directory`,
      );
    for (const f of ['config', 'set', 'seed', 'out'] as const) {
      if (v[f] !== undefined) {
        throw new XError(
          'INVALID_INPUT',
          `--${f} cannot be combined with --resume: a resumed run keeps its config (${file}); only --steps, --save-every, --backend and --quiet may change`,
        );
      }
    }
    raw = deepMerge(parseYaml(readFileSync(file, 'utf8'), file), flagsPatch);
    source = file;
  } else {
    raw = structuredClone(defaults);
    const cfgFile = v['config'] as string | undefined;
    if (cfgFile !== undefined) raw = deepMerge(raw, loadYamlFile(resolve(ctx.cwd, cfgFile)));
    raw = applyOverrides(raw, (v['set'] as string[] | undefined) ?? []);
    raw = deepMerge(raw, flagsPatch);
    source =
      [cfgFile, v['set'] === undefined ? undefined : '--set'].filter(Boolean).join(' + ') ||
      'defaults';
    runDir = resolve(
      ctx.cwd,
      (v['out'] as string | undefined) ?? join('runs', `${pipeline}-${timestamp()}`),
    );
  }
  const config = parseConfig(schema, raw, source);
  mkdirSync(runDir, { recursive: true });
  if (resumeDir === undefined) {
    if (existsSync(join(runDir, 'checkpoints'))) {
      throw new XError(
        'INVALID_INPUT',
        `--out ${runDir} already holds a run; use --resume ${runDir} to continue it or choose another --out`,
      );
    }
  }
  writeConfig(runDir, pipeline, config);
  return { config, runDir, resume: resumeDir !== undefined, backend, quiet: ctx.quiet };
}

/** Writes `<run-dir>/config.yaml` (the resolved config with its root seed). */
export function writeConfig(runDir: string, pipeline: string, config: unknown): void {
  const text = `# resolved config of a '${pipeline}' run (defaults + --config + --set + flags)\n${stringify(config)}`;
  const tmp = join(runDir, 'config.yaml.tmp');
  writeFileSync(tmp, text);
  renameSync(tmp, join(runDir, 'config.yaml'));
}
