import { createRequire } from 'node:module';
import { XError, formatIssues } from '@x/core';
import { z } from 'zod';

/** The `format` field of every manifest. */
export const CHECKPOINT_FORMAT = 'x-checkpoint';
/** The manifest format version this library writes and reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;
/** File names inside a checkpoint directory. */
export const FILES = {
  tensors: 'state.safetensors',
  tree: 'state.json',
  manifest: 'manifest.json',
} as const;

/** The version of this library (recorded in every manifest as `@x/checkpoint`). */
export const CHECKPOINT_LIBRARY_VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hex digest');
const metricValue = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

const ManifestSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  formatVersion: z.number().int().positive(),
  step: z.number().int().nonnegative(),
  createdAt: z.string(),
  components: z.array(z.string()),
  metrics: z.record(z.string(), metricValue),
  metadata: z.record(z.string(), z.unknown()),
  versions: z.record(z.string(), z.string()),
  stateDigest: hex64,
  files: z.record(
    z.string(),
    z.strictObject({ size: z.number().int().nonnegative(), sha256: hex64 }),
  ),
});

/** `manifest.json` of a checkpoint (written last, before the directory is committed). */
export interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  step: number;
  /** UTC time of the save, ISO 8601 with `Z`. */
  createdAt: string;
  /** Names of the saved components (top-level keys of the state tree). */
  components: string[];
  /** Numeric metrics; NaN and ±Infinity as the strings `NaN`, `Infinity`, `-Infinity`. */
  metrics: Record<string, number | 'NaN' | 'Infinity' | '-Infinity'>;
  /** Caller metadata (JSON). */
  metadata: Record<string, unknown>;
  /** Library and backend versions (`@x/checkpoint`, `node`, plus what the caller passes). */
  versions: Record<string, string>;
  /** `stateDigest` of the whole saved state tree. */
  stateDigest: string;
  /** Size and SHA-256 of every other file of the checkpoint. */
  files: Record<string, { size: number; sha256: string }>;
}

/** Encodes metrics for a manifest (non-finite values as string tokens). */
export function encodeMetrics(metrics: Record<string, number>): Manifest['metrics'] {
  const out: Manifest['metrics'] = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== 'number')
      throw new XError('INVALID_INPUT', `metrics.${k}: expected a number, got ${typeof v}`);
    out[k] = Number.isNaN(v)
      ? 'NaN'
      : v === Infinity
        ? 'Infinity'
        : v === -Infinity
          ? '-Infinity'
          : v;
  }
  return out;
}

/** Decodes manifest metrics back to numbers. */
export function decodeMetrics(metrics: Manifest['metrics']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) out[k] = typeof v === 'number' ? v : Number(v);
  return out;
}

/** Parses and validates `manifest.json` text; throws `INTEGRITY` naming the file and key. */
export function parseManifest(text: string, source: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new XError('INTEGRITY', `${source}: not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > CHECKPOINT_FORMAT_VERSION) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: format version ${version} is newer than this library reads (${CHECKPOINT_FORMAT_VERSION}); upgrade @x/checkpoint`,
    );
  }
  const r = ManifestSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    throw new XError('INTEGRITY', `${source}: ${formatIssues(r.error.issues).join('; ')}`, {
      cause: r.error,
    });
  }
  return r.data;
}
