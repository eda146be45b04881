import { resolve } from 'node:path';
import { applyOverrides, deepMerge, loadYamlFile, parseConfig } from '@x/core';
import { loggingConfigSchema, wandbConfigSchema } from '@x/logging';
import { z } from 'zod';
import type { FlagValues } from './command.js';
import { list, str } from './flags.js';

/** Validates a merged raw config; `source` names where it came from in error messages. */
export type ConfigValidator<T> = (raw: unknown, source: string) => T;

/** A validator from a zod schema (errors are `INVALID_CONFIG` naming every bad key). */
export function bySchema<S extends z.ZodType>(schema: S): ConfigValidator<z.output<S>> {
  return (raw, source) => parseConfig(schema, raw, source);
}

/** Options of {@link resolveRunConfig}. */
export interface ResolveOptions<T> {
  validate: ConfigValidator<T>;
  /** Embedded defaults. */
  defaults: unknown;
  /** The command's flags: `--config <file>` and `--set k=v` are read from them. */
  values: FlagValues;
  cwd: string;
  /** Values of dedicated flags (`--seed`, `--steps`, …), merged last. */
  flags?: Record<string, unknown>;
  /**
   * A resumed run's `config.yaml`: it replaces defaults, `--config` and `--set` (a resumed run
   * keeps its config); its `provenance` section is dropped (the new process records its own).
   */
  base?: string;
}

function defined(o: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
}

/**
 * The one config path of every runner command: embedded defaults → `--config` → `--set` →
 * dedicated flags, validated once; every error is an `XError` naming the file, key or flag.
 */
export function resolveRunConfig<T>(o: ResolveOptions<T>): { config: T; source: string } {
  let raw: unknown;
  const parts: string[] = [];
  if (o.base !== undefined) {
    const doc = loadYamlFile(o.base);
    const { provenance: _p, ...rest } = (doc ?? {}) as Record<string, unknown>;
    raw = rest;
    parts.push(o.base);
  } else {
    raw = structuredClone(o.defaults);
    const file = str(o.values, 'config');
    if (file !== undefined) {
      raw = deepMerge(raw, loadYamlFile(resolve(o.cwd, file)));
      parts.push(file);
    }
    const sets = list(o.values, 'set');
    raw = applyOverrides(raw, sets);
    if (sets.length > 0) parts.push('--set');
  }
  const flags = defined(o.flags);
  raw = deepMerge(raw, flags);
  if (Object.keys(flags).length > 0) parts.push('flags');
  const source = parts.join(' + ') || 'defaults';
  return { config: o.validate(raw, source), source };
}

/**
 * The `logging:` section of a run config: the logger's schema with its `wandb` part validated
 * too, so a bad W&B setting is an error before anything is written.
 */
export const runLoggingSchema = loggingConfigSchema.superRefine((l, ctx) => {
  const w = (l as { wandb?: unknown }).wandb;
  if (w === undefined) return;
  const r = wandbConfigSchema.safeParse(w, { reportInput: true });
  if (r.success) return;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: ['wandb', ...issue.path] });
});

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

/**
 * A strict run schema from the runner's own fields and the packages' config schemas, keeping
 * each package's cross-field refinements (spreading a schema's shape would drop them).
 */
export function composeRunSchema<R extends z.ZodRawShape, P extends readonly ObjectSchema[]>(
  own: R,
  parts: P,
): z.ZodObject<R & P[number]['shape'], z.core.$strict> {
  const shape = Object.assign({}, ...parts.map((p) => p.shape), own) as R & P[number]['shape'];
  return z.strictObject(shape).superRefine((value, ctx) => {
    for (const part of parts) {
      const keys = Object.keys(part.shape);
      const picked = Object.fromEntries(
        keys.filter((k) => k in value).map((k) => [k, (value as Record<string, unknown>)[k]]),
      );
      const r = part.safeParse(picked, { reportInput: true });
      if (!r.success)
        for (const issue of r.error.issues)
          ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    }
  });
}
