import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isXError } from '@x/core';
import { initBackend } from '@x/tensor';
import { pythonHas } from '@x/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetReader, PATHS } from './datasetFile.js';
import { generateDataset } from './generate.js';
import { h5ready, openH5 } from './h5io.js';
import { contentDigest, mergeShards } from './merge.js';
import { extractFamily, replayDataset, verifyDataset } from './replay.js';
import { operatorSpec, rolloutOperator } from './rollout.js';
import { tinyConfig } from './testConfig.js';

const dir = mkdtempSync(join(tmpdir(), 'opreplay-'));
const config = tinyConfig();
const N = 5;
const single = join(dir, 'single.h5');
const hasH5py = pythonHas('h5py', 'numpy');

function hashes(path: string): string[] {
  const r = DatasetReader.open(path);
  try {
    const h = r.rows(PATHS.hash, 0, r.count) as Uint8Array;
    return Array.from({ length: r.count }, (_, i) =>
      Buffer.from(h.subarray(i * 32, i * 32 + 32)).toString('hex'),
    );
  } finally {
    r.close();
  }
}

beforeAll(async () => {
  await initBackend('cpu');
  await h5ready();
  await generateDataset({ config, total: N, out: single, batchSize: 2 });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generation and replay', () => {
  it('gives the same file whatever the batch size and realization batching', async () => {
    const other = join(dir, 'batch1.h5');
    await generateDataset({ config, total: N, out: other, batchSize: 1, realizationBatch: 1 });
    expect(hashes(other)).toEqual(hashes(single));
    expect(await contentDigest(other)).toBe(await contentDigest(single));
  });

  it.runIf(process.versions.node.startsWith('20.'))(
    'pins golden hashes (cpu backend, Node 20): the seed scheme and rollout never drift silently',
    () => {
      expect(config.datasetId).toBe('ds-9050627a289c3107');
      expect(hashes(single).slice(0, 2)).toEqual([
        '6ddb8f2e0a7a0c738db7a846b16ede22b7a3b2a023abd2e6374e13445c462888',
        'cc8869f2d4ec9628d4402fad27daddb68d938d4adda8a709cc9e6c226522ee5f',
      ]);
    },
  );

  it('replays every operator bit for bit, also out of order', async () => {
    expect((await verifyDataset(single)).checked).toBe(N);
    const seen: number[] = [];
    const rep = await replayDataset(single, {
      indices: [4, 1],
      onRollout: (r) => seen.push(r.index),
    });
    expect(rep.mismatches).toEqual([]);
    expect(seen).toEqual([4, 1]);
    await expect(replayDataset(single, { indices: [9] })).rejects.toThrow(/no operator 9/);
  });

  it('stores the IC and the 14 parameters as float32 and exact float64', () => {
    const r = DatasetReader.open(single);
    try {
      const spec = operatorSpec(config, 2);
      expect(Array.from(r.units(2, 3))).toEqual(Array.from(spec.unit));
      const ic = r.rows(PATHS.ic, 2, 3);
      expect(Array.from(ic)).toEqual(Array.from(rolloutOperator(config, spec).ic));
      expect(r.header.environment.backend).toBe('cpu');
      expect(r.header.config.datasetId).toBe(config.datasetId);
    } finally {
      r.close();
    }
  });

  it('shards are disjoint and merge into a file equal to the single-process one', async () => {
    const parts = [0, 1, 2].map((i) => join(dir, `part${i}.h5`));
    for (const [i, p] of parts.entries())
      await generateDataset({ config, total: N, out: p, shard: { index: i, count: 3 } });
    const merged = join(dir, 'merged.h5');
    await mergeShards(merged, [parts[2]!, parts[0]!, parts[1]!]);
    expect(await contentDigest(merged)).toBe(await contentDigest(single));
    await expect(mergeShards(join(dir, 'bad.h5'), [parts[0]!, parts[2]!])).rejects.toThrow(
      /shard 1\/3 is missing/,
    );
    await expect(
      mergeShards(join(dir, 'bad.h5'), [parts[0]!, parts[0]!, parts[2]!]),
    ).rejects.toThrow(/shard 0\/3 given twice/);
  });

  it('names tampered operators (INTEGRITY)', async () => {
    const copy = join(dir, 'tampered.h5');
    await generateDataset({ config, total: N, out: copy });
    const f = openH5(copy, 'a');
    const ds = f.get(PATHS.ic) as unknown as {
      write_slice: (r: number[][], d: Float32Array) => void;
    };
    ds.write_slice(
      [
        [3, 4],
        [0, 1],
        [0, 1],
        [0, 1],
      ],
      new Float32Array([42]),
    );
    f.close();
    const err: unknown = await verifyDataset(copy).catch((e: unknown) => e);
    expect(isXError(err, 'INTEGRITY')).toBe(true);
    expect((err as Error).message).toMatch(/for 1 of 5 operators: 3$/);
    await expect(extractFamily(copy, 'temporal')).rejects.toThrow(
      /operators 3; no features written/,
    );
  });

  it('refuses another backend unless told otherwise', async () => {
    const copy = join(dir, 'otherenv.h5');
    await generateDataset({ config, total: 1, out: copy });
    const f = openH5(copy, 'a');
    f.delete_attribute('backend');
    f.create_attribute('backend', 'wasm');
    f.close();
    await expect(replayDataset(copy)).rejects.toThrow(
      /different environment \(backend wasm ≠ cpu\)/,
    );
    const rep = await replayDataset(copy, { allowEnvironmentMismatch: true });
    expect(rep.environmentDifferences).toEqual(['backend wasm ≠ cpu']);
  });

  it('extracts a new family by replay and records it', async () => {
    const copy = join(dir, 'extract.h5');
    await generateDataset({ config, total: 3, out: copy });
    const progress: number[] = [];
    await extractFamily(copy, 'temporal', { batchSize: 2, onProgress: (d) => progress.push(d) });
    expect(progress).toEqual([2, 3]);
    const r = DatasetReader.open(copy);
    try {
      expect(Object.keys(r.header.featureRegistry).sort()).toEqual(['summary', 'temporal']);
      expect(r.rows('features/temporal/curves', 0, 3)).toHaveLength(3 * 2 * 5 * 4);
    } finally {
      r.close();
    }
    await expect(extractFamily(copy, 'temporal')).rejects.toThrow(
      /already holds feature family 'temporal'/,
    );
  });

  it.skipIf(!hasH5py)('is readable by h5py: layout, chunking, gzip, attributes and hashes', () => {
    const script = `
import h5py, hashlib, json, sys
f = h5py.File(sys.argv[1], 'r')
p = f['parameters/params']
out = {
  'params': [list(p.shape), str(p.dtype), p.compression, list(p.chunks)],
  'f64': str(f['parameters/params_f64'].dtype),
  'ic': list(f['inputs/fields'].shape),
  'agg': list(f['features/summary/aggregated'].shape),
  'names': json.loads(p.attrs['names'])[0],
  'scheme': f.attrs['seed_scheme'], 'backend': f.attrs['backend'], 'tfjs': f.attrs['tfjs_version'],
  'hash0': bytes(f['replay/trajectory_sha256'][0]).hex(),
  'f32ok': bool((f['parameters/params_f64'][:].astype('float32') == p[:]).all()),
}
print(json.dumps(out))
`;
    const out = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, single], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    expect(out['params']).toEqual([[N, 14], 'float32', 'gzip', [3, 14]]);
    expect(out['f64']).toBe('float64');
    expect(out['ic']).toEqual([N, 3, 12, 12]);
    expect(out['names']).toBe('num_layers');
    expect(out['scheme']).toBe('x-operator-replay/seed-v1');
    expect(out['backend']).toBe('cpu');
    expect(out['tfjs']).toBe('4.22.0');
    expect(out['hash0']).toBe(hashes(single)[0]);
    expect(out['f32ok']).toBe(true);
  });
});
