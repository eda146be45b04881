import { XError } from '@x/core';
import { DatasetReader, PATHS, createFamilyDatasets } from './datasetFile.js';
import { assertEnvironment, currentEnvironment } from './environment.js';
import { getFamily } from './features.js';
import { computeOperator } from './generate.js';
import { h5ready, writeRows } from './h5io.js';
import type { RolloutResult } from './rollout.js';

/** Options of {@link replayDataset}. */
export interface ReplayOptions {
  /** Global operator indices to replay (default all in the file). */
  indices?: number[];
  /** Replay even if backend or library versions differ from the file's (results may differ). */
  allowEnvironmentMismatch?: boolean;
  realizationBatch?: number;
  onProgress?: (done: number, count: number) => void;
  /** Receives each replayed rollout with its row in the file. */
  onRollout?: (rollout: RolloutResult, row: number) => void;
  /** Checked after each operator (the loop yields there); when aborted, throws its reason. */
  signal?: AbortSignal;
}

/** An operator whose replayed trajectory hash differs from the stored one. */
export interface ReplayMismatch {
  index: number;
  expected: string;
  actual: string;
}

/** Outcome of a replay. */
export interface ReplayReport {
  checked: number;
  mismatches: ReplayMismatch[];
  /** Environment differences that were allowed (empty unless overridden). */
  environmentDifferences: string[];
}

function rowsFor(reader: DatasetReader, indices: number[] | undefined): number[] {
  const stored = reader.rows(PATHS.index, 0, reader.count) as Int32Array;
  if (indices === undefined) return Array.from(stored, (_, i) => i);
  const rowOf = new Map<number, number>();
  stored.forEach((idx, row) => rowOf.set(idx, row));
  return indices.map((i) => {
    const row = rowOf.get(i);
    if (row === undefined)
      throw new XError(
        'INVALID_INPUT',
        `${reader.path}: no operator ${i} (the file holds ${reader.header.start}..${reader.header.start + reader.count - 1})`,
      );
    return row;
  });
}

async function replayRows(
  reader: DatasetReader,
  rows: number[],
  opts: ReplayOptions,
  each: (r: RolloutResult, row: number) => void,
): Promise<ReplayMismatch[]> {
  const config = reader.header.config;
  const hashes = reader.rows(PATHS.hash, 0, reader.count) as Uint8Array;
  const indices = reader.rows(PATHS.index, 0, reader.count) as Int32Array;
  const mismatches: ReplayMismatch[] = [];
  for (const [k, row] of rows.entries()) {
    const unit = reader.units(row, row + 1);
    const ic = reader.rows(PATHS.ic, row, row + 1) as Float32Array;
    const { rollout } = computeOperator(config, indices[row] as number, [], {
      unit,
      ic,
      ...(opts.realizationBatch === undefined ? {} : { realizationBatch: opts.realizationBatch }),
    });
    const expected = Buffer.from(hashes.subarray(row * 32, row * 32 + 32)).toString('hex');
    if (rollout.hash !== expected)
      mismatches.push({ index: rollout.index, expected, actual: rollout.hash });
    each(rollout, row);
    opts.onProgress?.(k + 1, rows.length);
    await new Promise((done) => setImmediate(done));
    opts.signal?.throwIfAborted();
  }
  return mismatches;
}

/**
 * Regenerates trajectories from the file alone (stored float64 parameters and initial
 * conditions, seeds re-derived) and compares their SHA-256 with the stored hashes. Refuses a
 * backend or library version other than the recorded one unless `allowEnvironmentMismatch`.
 */
export async function replayDataset(path: string, opts: ReplayOptions = {}): Promise<ReplayReport> {
  await h5ready();
  const reader = DatasetReader.open(path);
  try {
    const diffs = assertEnvironment(
      path,
      reader.header.environment,
      currentEnvironment(),
      opts.allowEnvironmentMismatch ?? false,
    );
    const rows = rowsFor(reader, opts.indices);
    const mismatches = await replayRows(reader, rows, opts, (r, row) => opts.onRollout?.(r, row));
    return { checked: rows.length, mismatches, environmentDifferences: diffs };
  } finally {
    reader.close();
  }
}

/** Replays and throws XError `INTEGRITY` naming every operator whose hash differs. */
export async function verifyDataset(path: string, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const report = await replayDataset(path, opts);
  if (report.mismatches.length > 0) {
    const list = report.mismatches.map((m) => m.index).join(', ');
    throw new XError(
      'INTEGRITY',
      `${path}: replay differs from the stored trajectory hash for ${report.mismatches.length} of ${report.checked} operators: ${list}`,
      { details: { mismatches: report.mismatches } },
    );
  }
  return report;
}

/** Options of {@link extractFamily}. */
export interface ExtractOptions {
  /** Operators replayed per written batch (default the file's chunk size). */
  batchSize?: number;
  allowEnvironmentMismatch?: boolean;
  onProgress?: (done: number, count: number) => void;
  /** Checked after each operator; when aborted, throws its reason (the file is then incomplete). */
  signal?: AbortSignal;
}

/**
 * Adds a feature family to a file by replaying every operator in batches: each trajectory's hash
 * is checked against the stored one before its features are written (XError `INTEGRITY`
 * otherwise), then `/features/<family>/...` and the feature registry are updated.
 */
export async function extractFamily(
  path: string,
  familyName: string,
  opts: ExtractOptions = {},
): Promise<{ family: string; datasets: string[]; count: number }> {
  const family = getFamily(familyName);
  await h5ready();
  const reader = DatasetReader.open(path, 'update');
  try {
    const { header } = reader;
    if (header.featureRegistry[family.name] !== undefined)
      throw new XError('INVALID_INPUT', `${path} already holds feature family '${family.name}'`);
    assertEnvironment(
      path,
      header.environment,
      currentEnvironment(),
      opts.allowEnvironmentMismatch ?? false,
    );
    const names = createFamilyDatasets(reader.file, family, header.config, reader.count);
    const batch = Math.max(1, opts.batchSize ?? header.config.chunkSize);
    for (let b = 0; b < reader.count; b += batch) {
      const rows = Array.from({ length: Math.min(batch, reader.count - b) }, (_, i) => b + i);
      const parts: Record<string, Float32Array[]> = Object.fromEntries(names.map((n) => [n, []]));
      const bad = await replayRows(
        reader,
        rows,
        opts.signal === undefined ? {} : { signal: opts.signal },
        (r) => {
          const out = family.extract(r.trajectory, r.shape);
          for (const n of names) parts[n]?.push(out[n] ?? new Float32Array(0));
        },
      );
      if (bad.length > 0)
        throw new XError(
          'INTEGRITY',
          `${path}: replay differs from the stored hash for operators ${bad.map((m) => m.index).join(', ')}; no features written`,
        );
      for (const n of names) {
        const list = parts[n] ?? [];
        const data = new Float32Array(list.reduce((a, p) => a + p.length, 0));
        let at = 0;
        for (const p of list) {
          data.set(p, at);
          at += p.length;
        }
        writeRows(reader.dataset(`features/${family.name}/${n}`), b, rows.length, data);
      }
      opts.onProgress?.(Math.min(reader.count, b + batch), reader.count);
    }
    const registry = {
      ...header.featureRegistry,
      [family.name]: { version: family.version, datasets: names },
    };
    reader.file.delete_attribute('feature_registry');
    reader.file.create_attribute('feature_registry', JSON.stringify(registry));
    reader.commit();
    return { family: family.name, datasets: names, count: reader.count };
  } finally {
    reader.close();
  }
}

/** Parses an index list (`3,5,10-12`) into global indices; `what` names the option in errors. */
export function parseIndices(text: string, what = 'indices'): number[] {
  const out: number[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null)
      throw new XError('INVALID_INPUT', `${what}: '${part}' is not an index or range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new XError('INVALID_INPUT', `${what}: range '${part}' is reversed`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  if (out.length === 0) throw new XError('INVALID_INPUT', `${what}: empty list`);
  return out;
}
