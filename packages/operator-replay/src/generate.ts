import { XError } from '@x/core';
import { currentBackend, type BackendName } from '@x/tensor';
import type { DatasetConfig } from './datasetConfig.js';
import { DatasetWriter, type OperatorRecord } from './datasetFile.js';
import { currentEnvironment } from './environment.js';
import { getFamily, type FeatureFamily } from './features.js';
import { GeneratePool } from './generatePool.js';
import { h5ready } from './h5io.js';
import { operatorSpec, rolloutOperator, type RolloutResult } from './rollout.js';

/** A shard `i/n` (0-based i). */
export interface Shard {
  index: number;
  count: number;
}

/** Parses `i/n` (0 <= i < n); `what` names the option in errors (the CLI passes its flag). */
export function parseShard(text: string, what = 'shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || !(count >= 1) || !(index < count))
    throw new XError('INVALID_INPUT', `${what}: expected <i>/<n> with 0 <= i < n, got '${text}'`);
  return { index, count };
}

/** Global operator range [start, end) of a shard: contiguous and disjoint, covering 0..total. */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return {
    start: Math.floor((shard.index * total) / shard.count),
    end: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}

/** Runs one operator and its inline families; the record stored for it. */
export function computeOperator(
  config: DatasetConfig,
  index: number,
  families: FeatureFamily[],
  options: { unit?: Float64Array; ic?: Float32Array; realizationBatch?: number } = {},
): { record: OperatorRecord; rollout: RolloutResult } {
  const spec = operatorSpec(config, index, options.unit);
  const rollout = rolloutOperator(config, spec, {
    ...(options.ic === undefined ? {} : { ic: options.ic }),
    ...(options.realizationBatch === undefined
      ? {}
      : { realizationBatch: options.realizationBatch }),
  });
  const features: OperatorRecord['features'] = {};
  for (const f of families) features[f.name] = f.extract(rollout.trajectory, rollout.shape);
  return {
    record: {
      index,
      unit: spec.unit,
      seed: spec.streams.seed,
      ic: rollout.ic,
      hash: rollout.hash,
      features,
    },
    rollout,
  };
}

let sharedPool: GeneratePool | undefined;

/** The generation workers for `threads` threads on `backend`, kept between calls. */
function poolFor(threads: number, backend: BackendName): GeneratePool {
  const p = sharedPool;
  if (p !== undefined && !p.failed && p.size === threads && p.backend === backend) return p;
  void p?.dispose();
  sharedPool = new GeneratePool(threads, backend);
  return sharedPool;
}

/** Options of {@link generateDataset}. */
export interface GenerateOptions {
  config: DatasetConfig;
  /** Operators in the whole dataset. */
  total: number;
  out: string;
  shard?: Shard;
  /** Operators written per batch (default the chunk size); results do not depend on it. */
  batchSize?: number;
  realizationBatch?: number;
  onProgress?: (done: number, count: number) => void;
  /** Called with each operator's rollout (e.g. to draw pictures), in index order. */
  onRollout?: (rollout: RolloutResult) => void;
  /**
   * Checked after each operator (the loop yields to the event loop there): when aborted,
   * generation stops by throwing the signal's reason and the file is incomplete.
   */
  signal?: AbortSignal;
}

/** Summary of a generated file. */
export interface GenerateResult {
  path: string;
  start: number;
  count: number;
  datasetId: string;
}

/**
 * Generates the operators of one shard (default: all) into a feature-only HDF5 file: parameters
 * (float32 and float64), seeds, initial conditions, inline feature families and per-operator
 * trajectory hashes. The backend must be initialized; it is recorded in the file.
 *
 * @example
 * await initBackend('cpu');
 * await generateDataset({ config: resolveDatasetConfig({ rootSeed: 1 }), total: 8, out: 'ops.h5' });
 */
export async function generateDataset(opts: GenerateOptions): Promise<GenerateResult> {
  const { config, total } = opts;
  if (!Number.isSafeInteger(total) || total < 1 || total > 2 ** 31 - 1)
    throw new XError(
      'INVALID_INPUT',
      `total: expected an integer between 1 and 2^31-1, got ${total}`,
    );
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (shard.count > total)
    throw new XError(
      'INVALID_INPUT',
      `shard ${shard.index}/${shard.count}: more shards than operators (${total})`,
    );
  const families = config.inlineFamilies.map(getFamily);
  await h5ready();
  const { start, end } = shardRange(total, shard);
  const count = end - start;
  const writer = DatasetWriter.create(
    opts.out,
    { config, totalOperators: total, shard, start, count, environment: currentEnvironment() },
    families,
  );
  // On the wasm backend with several threads, operators run in parallel on single-threaded
  // workers (one heap's per-op threading barely helps these small rollouts); not when the caller
  // wants each rollout (pictures).
  const info = currentBackend();
  const threads = info?.name === 'wasm' ? (info.threads ?? 1) : 1;
  const pool =
    threads > 1 && count > 1 && opts.onRollout === undefined && info !== undefined
      ? poolFor(threads, info.name)
      : undefined;
  try {
    const batch = Math.max(1, opts.batchSize ?? config.chunkSize);
    for (let b = start; b < end; b += batch) {
      const records: OperatorRecord[] = [];
      const last = Math.min(end, b + batch);
      if (pool !== undefined) {
        const indices = Array.from({ length: last - b }, (_, k) => b + k);
        for (const record of await pool.run(config, indices, opts.realizationBatch)) {
          records.push(record);
          opts.onProgress?.(record.index - start + 1, count);
        }
        opts.signal?.throwIfAborted();
      }
      for (let i = b; pool === undefined && i < last; i++) {
        const { record, rollout } = computeOperator(config, i, families, {
          ...(opts.realizationBatch === undefined
            ? {}
            : { realizationBatch: opts.realizationBatch }),
        });
        opts.onRollout?.(rollout);
        records.push(record);
        opts.onProgress?.(i - start + 1, count);
        await new Promise((done) => setImmediate(done));
        opts.signal?.throwIfAborted();
      }
      writer.writeBatch(b - start, records);
    }
  } finally {
    writer.close();
  }
  return { path: opts.out, start, count, datasetId: config.datasetId };
}
