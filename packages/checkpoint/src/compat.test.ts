import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isXError, stateDigest, statesEqual } from '@x/core';
import { pythonHas, runPython } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { V1_CHECKPOINT, V1_DIGEST } from './__fixtures__/v1Checkpoint.js';
import { fixtureState } from './__fixtures__/v1State.js';
import { loadCheckpoint } from './checkpointIo.js';
import { nodeFs } from './fsOps.js';

const root = mkdtempSync(join(tmpdir(), 'x-ckpt-compat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const hasNumpy = pythonHas('numpy');

function materialize(): string {
  const dir = join(root, 'checkpoints', 'step-00000007');
  mkdirSync(dir, { recursive: true });
  for (const [name, b64] of Object.entries(V1_CHECKPOINT))
    writeFileSync(join(dir, name), Buffer.from(b64, 'base64'));
  return dir;
}

describe('format compatibility', () => {
  it('a checkpoint written by format version 1 still loads bit-exactly with the same digest', async () => {
    const loaded = await loadCheckpoint(nodeFs, materialize());
    expect(loaded.manifest.stateDigest).toBe(V1_DIGEST);
    expect(stateDigest(loaded.state)).toBe(V1_DIGEST);
    expect(stateDigest(fixtureState())).toBe(V1_DIGEST);
    expect(statesEqual(loaded.state, fixtureState())).toBe(true);
    const full = await loadCheckpoint(nodeFs, materialize(), { verifyDigest: true });
    expect(statesEqual(full.state, fixtureState())).toBe(true);
  });

  it('a manifest from a newer format version is refused with an upgrade hint', async () => {
    const dir = materialize();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, formatVersion: 2 }));
    await expect(loadCheckpoint(nodeFs, dir)).rejects.toSatisfy(
      (e) => isXError(e, 'INVALID_INPUT') && /newer.*upgrade/.test((e as Error).message),
    );
  });

  it.skipIf(!hasNumpy)('numpy reads the tensors of a manager-written checkpoint', () => {
    const file = join(materialize(), 'state.safetensors');
    const py = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
head = json.loads(raw[8:8 + n])
head.pop('__metadata__', None)
dt = {'F32': '<f4', 'F64': '<f8', 'I32': '<i4', 'U8': 'u1', 'BOOL': '?'}
out = {k: np.frombuffer(raw[8 + n + e['data_offsets'][0]:8 + n + e['data_offsets'][1]], dtype=dt[e['dtype']]).reshape(e['shape']).tolist() for k, e in head.items()}
print(json.dumps(out, allow_nan=True))`;
    const text = runPython(py, [file]);
    const out = JSON.parse(
      text.replace(/\bNaN\b/g, 'null').replace(/\bInfinity\b/g, '1e999'),
    ) as Record<string, unknown>;
    expect(out['model/conv1/kernel']).toEqual([
      [[[0.5, -1.25]], [[3, 4]]],
      [[[5, 6]], [[7, -0]]],
    ]);
    expect(out['model/head/bias']).toEqual([null, Infinity, 1e-300]);
    expect(out['data/ids']).toEqual([-5, 2 ** 31 - 1]);
    expect(out['optimizer/flags']).toEqual([true, false]);
    expect(out['optimizer/m/w']).toEqual([]);
  });
});
