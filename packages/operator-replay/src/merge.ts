import { createHash } from 'node:crypto';
import { XError } from '@x/core';
import h5wasm from 'h5wasm/node';
import type { Group } from 'h5wasm/node';
import { configToJson } from './datasetConfig.js';
import { DatasetReader, DatasetWriter, PATHS, type DatasetHeader } from './datasetFile.js';
import { environmentDifferences } from './environment.js';
import { getFamily } from './features.js';
import { h5ready, openH5, readRows } from './h5io.js';

function registryKey(h: DatasetHeader): string {
  return JSON.stringify(
    Object.keys(h.featureRegistry)
      .sort()
      .map((k) => [k, h.featureRegistry[k]]),
  );
}

/**
 * Merges shard files of one dataset into one file equal (same content digest) to the file a
 * single process would write. Every shard of the split must be given exactly once; shards must
 * share dataset id, config, feature families and environment.
 */
export async function mergeShards(
  out: string,
  shardPaths: string[],
  opts: { allowEnvironmentMismatch?: boolean; signal?: AbortSignal } = {},
): Promise<{ count: number; shards: number }> {
  if (shardPaths.length === 0) throw new XError('INVALID_INPUT', 'merge: no shard files given');
  await h5ready();
  const readers = shardPaths.map((p) => DatasetReader.open(p));
  try {
    const first = readers[0] as DatasetReader;
    const h0 = first.header;
    for (const r of readers) {
      const h = r.header;
      const what = `${r.path} (shard ${h.shard.index}/${h.shard.count})`;
      if (h.config.datasetId !== h0.config.datasetId)
        throw new XError(
          'INVALID_INPUT',
          `${what}: dataset id ${h.config.datasetId} ≠ ${h0.config.datasetId} of ${first.path}`,
        );
      if (
        configToJson(h.config) !== configToJson(h0.config) ||
        h.totalOperators !== h0.totalOperators
      )
        throw new XError(
          'INVALID_INPUT',
          `${what}: config or operator count differs from ${first.path}`,
        );
      if (h.shard.count !== h0.shard.count)
        throw new XError(
          'INVALID_INPUT',
          `${what}: split into ${h.shard.count} shards, ${first.path} into ${h0.shard.count}`,
        );
      if (registryKey(h) !== registryKey(h0))
        throw new XError(
          'INVALID_INPUT',
          `${what}: feature families differ from ${first.path}; extract the same families on every shard`,
        );
      const diffs = environmentDifferences(h0.environment, h.environment);
      if (diffs.length > 0 && opts.allowEnvironmentMismatch !== true)
        throw new XError(
          'INVALID_INPUT',
          `${what}: generated in a different environment than ${first.path} (${diffs.join('; ')})`,
        );
    }
    const sorted = [...readers].sort((a, b) => a.header.shard.index - b.header.shard.index);
    sorted.forEach((r, i) => {
      if (r.header.shard.index !== i) {
        const seen = sorted.map((s) => s.header.shard.index);
        const dup = seen.find((s, k) => seen.indexOf(s) !== k);
        throw new XError(
          'INVALID_INPUT',
          dup !== undefined
            ? `merge: shard ${dup}/${h0.shard.count} given twice`
            : `merge: shard ${i}/${h0.shard.count} is missing`,
        );
      }
    });
    if (sorted.length !== h0.shard.count)
      throw new XError(
        'INVALID_INPUT',
        `merge: shard ${sorted.length}/${h0.shard.count} is missing`,
      );
    const families = Object.keys(h0.featureRegistry)
      .sort()
      .map((name) => {
        const fam = getFamily(name);
        if (fam.version !== h0.featureRegistry[name]?.version)
          throw new XError(
            'INVALID_INPUT',
            `${first.path}: family ${name} version ${h0.featureRegistry[name]?.version}, this library has ${fam.version}`,
          );
        return fam;
      });
    const writer = DatasetWriter.create(
      out,
      {
        config: h0.config,
        totalOperators: h0.totalOperators,
        shard: { index: 0, count: 1 },
        start: 0,
        count: h0.totalOperators,
        environment: h0.environment,
      },
      families,
    );
    try {
      const paths = [
        ...Object.values(PATHS),
        ...families.flatMap((f) =>
          (h0.featureRegistry[f.name]?.datasets ?? []).map((d) => `features/${f.name}/${d}`),
        ),
      ];
      for (const r of sorted) {
        const step = r.header.config.chunkSize;
        for (let b = 0; b < r.count; b += step) {
          const e = Math.min(r.count, b + step);
          for (const p of paths) writer.writeRaw(p, r.header.start + b, e - b, r.rows(p, b, e));
          await new Promise((done) => setImmediate(done));
          opts.signal?.throwIfAborted();
        }
      }
    } finally {
      writer.close();
    }
    return { count: h0.totalOperators, shards: sorted.length };
  } finally {
    for (const r of readers) r.close();
  }
}

function walk(g: Group, prefix: string, out: string[]): void {
  for (const k of g.keys().sort()) {
    const child = g.get(k);
    const p = prefix === '' ? k : `${prefix}/${k}`;
    if (child instanceof h5wasm.Group) walk(child, p, out);
    else if (child instanceof h5wasm.Dataset) out.push(p);
  }
}

/**
 * SHA-256 over a file's content: every dataset (path, dtype, shape, bytes) and every attribute
 * of the root and of datasets, sorted by name. Equal content gives equal digests whatever the
 * HDF5 byte layout.
 */
export async function contentDigest(path: string): Promise<string> {
  await h5ready();
  const f = openH5(path, 'r');
  try {
    const h = createHash('sha256');
    const attrs = (obj: { attrs: Record<string, { value: unknown }> }) => {
      for (const k of Object.keys(obj.attrs).sort())
        h.update(`@${k}=${JSON.stringify(obj.attrs[k]?.value)}\n`);
    };
    attrs(f);
    const paths: string[] = [];
    walk(f, '', paths);
    for (const p of paths) {
      const ds = f.get(p) as InstanceType<typeof h5wasm.Dataset>;
      const shape = ds.shape ?? [];
      h.update(`${p}:${JSON.stringify(ds.dtype)}:${JSON.stringify(shape)}\n`);
      attrs(ds);
      const rows = shape[0] ?? 0;
      for (let b = 0; b < rows; b += 256) {
        const v = readRows(ds, b, Math.min(rows, b + 256), path);
        h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      }
    }
    return h.digest('hex');
  } finally {
    f.close();
  }
}
