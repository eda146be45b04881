import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, isTensorData, stateDigest, tensorData, type State } from '@x/core';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureState } from './__fixtures__/v1State.js';
import { digestParts } from './digestParts.js';
import { digestOf, isShared, offThreadJobs, sha256Parts } from './hashing.js';
import { CheckpointManager } from './manager.js';
import { StagingArea } from './staging.js';

const root = mkdtempSync(join(tmpdir(), 'x-ckpt-hashing-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Model {
  model: { w: { data: Float32Array } };
}

function model(seed: number): State {
  const rng = Rng.fromSeed(seed).stream('hashing-test');
  const w = tensorData('float32', [300, 70]);
  for (let i = 0; i < w.data.length; i++) w.data[i] = rng.normal();
  return {
    model: { w, b: tensorData('float64', [3], [1, NaN, -0]), ids: tensorData('int32', [0]) },
    optimizer: {
      step: 7,
      flags: tensorData('bool', [2], [1, 0]),
      note: 'adåm ✓',
      m: [tensorData('uint8', [4], [1, 2, 3, 4]), null, true, [-0, Infinity, NaN]],
      $ref: { __proto__: 1 },
    },
  };
}

function tensors(s: State): ArrayBufferView[] {
  if (isTensorData(s)) return [s.data];
  if (s === null || typeof s !== 'object') return [];
  return Object.values(s).flatMap((v) => tensors(v));
}

const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('state digest in parts', () => {
  it('SHA-256 over the parts equals @x/core stateDigest (fixture, edge values, pinned value)', () => {
    for (const s of [fixtureState(), model(1), model(2), [], {}, 3, 'x', null]) {
      expect(sha(digestParts(s))).toBe(stateDigest(s));
    }
    const pinned = digestParts({ step: 1, w: tensorData('float32', [2], [1, 2]) });
    expect(sha(pinned)).toBe('8f00e51bd62c51faa11afe90fcadbaea84b9dfa462652244d6ea3821d29bc2e2');
  });

  it('tensor bytes are views of the tensors, not copies', () => {
    const s = model(3);
    const w = (s as unknown as Model).model.w.data;
    expect(digestParts(s).some((p) => p.buffer === w.buffer)).toBe(true);
  });
});

describe('hashing off the main thread', () => {
  it('a staged copy is shared, equal to the original, and independent of it', () => {
    const area = new StagingArea();
    const s = model(1);
    const staged = area.copy(s);
    expect(tensors(staged).every(isShared)).toBe(true);
    expect(tensors(s).some(isShared)).toBe(false);
    expect(stateDigest(staged)).toBe(stateDigest(s));
    (s as unknown as Model).model.w.data.fill(0);
    expect(stateDigest(staged)).not.toBe(stateDigest(s));
    const again = area.copy(model(2));
    expect(stateDigest(again)).toBe(stateDigest(model(2)));
  });

  it('worker digests and checksums equal the main-thread ones, and workers did the work', async () => {
    const before = offThreadJobs();
    const staged = new StagingArea().copy(model(3));
    expect(await digestOf(staged)).toBe(stateDigest(model(3)));
    const w = (staged as unknown as Model).model.w.data;
    const parts = [Uint8Array.of(1, 2, 3), new Uint8Array(w.buffer, w.byteOffset, w.byteLength)];
    expect(await sha256Parts(parts)).toBe(sha(parts));
    const after = offThreadJobs();
    expect(after.digest - before.digest).toBe(1);
    expect(after.sha256 - before.sha256).toBe(1);
    const plain = new Uint8Array(parts[1]!);
    expect(await sha256Parts([plain])).toBe(sha([plain]));
    expect(await digestOf(model(3))).toBe(stateDigest(model(3)));
    expect(offThreadJobs()).toEqual(after);
  });

  it('a large unshared state: the file checksum streams through the worker ring on save and restore, and damage is still caught', async () => {
    const rng = Rng.fromSeed(5).stream('hashing-test/large');
    const w = tensorData('float32', [3_000_000]);
    for (let i = 0; i < w.data.length; i += 97) w.data[i] = rng.normal();
    let held: State = { w, step: 3 };
    const comp = { model: { getState: () => held, setState: (s: State) => void (held = s) } };
    const dir = join(root, 'large');
    const mgr = new CheckpointManager(dir);
    const before = offThreadJobs().sha256;
    await mgr.save(1, comp);
    expect(offThreadJobs().sha256 - before).toBe(1);
    const file = join(dir, 'step-00000001', 'state.safetensors');
    const manifest = JSON.parse(readFileSync(join(dir, 'step-00000001', 'manifest.json'), 'utf8'));
    expect(manifest.files['state.safetensors'].sha256).toBe(sha([readFileSync(file)]));
    expect(manifest.stateDigest).toBe(stateDigest({ model: { w, step: 3 } }));
    held = {};
    await mgr.restore(comp);
    expect(offThreadJobs().sha256 - before).toBe(2);
    expect(stateDigest(held)).toBe(stateDigest({ w, step: 3 }));
    const fd = openSync(file, 'r+');
    writeSync(fd, Uint8Array.of(0x55), 0, 1, 4_000_000);
    closeSync(fd);
    const v = await mgr.verify(1);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problem).toMatch(/SHA-256/);
  });
});
