import { createHash } from 'node:crypto';
import { Rng, stateDigest, tensorData, type State } from '@x/core';
import { describe, expect, it } from 'vitest';
import { digestOf, offThreadJobs, sha256Parts, tensorsShared } from './hashing.js';
import { StagingArea } from './staging.js';

function model(seed: number): State {
  const rng = Rng.fromSeed(seed).stream('hashing-test');
  const w = tensorData('float32', [300, 70]);
  for (let i = 0; i < w.data.length; i++) w.data[i] = rng.normal();
  return {
    model: { w, b: tensorData('float64', [3], [1, NaN, -0]), ids: tensorData('int32', [0]) },
    optimizer: { step: 7, flags: tensorData('bool', [2], [1, 0]), note: 'adam', m: [w, null] },
  };
}

describe('hashing off the main thread', () => {
  it('a staged copy is shared, equal to the original, and independent of it', () => {
    const area = new StagingArea();
    const s = model(1);
    const staged = area.copy(s);
    expect(tensorsShared(staged)).toBe(true);
    expect(tensorsShared(s)).toBe(false);
    expect(stateDigest(staged)).toBe(stateDigest(s));
    (s as { model: { w: { data: Float32Array } } }).model.w.data.fill(0);
    expect(stateDigest(staged)).not.toBe(stateDigest(s));
    const again = area.copy(model(2));
    expect(stateDigest(again)).toBe(stateDigest(model(2)));
  });

  it('worker digests and checksums equal the main-thread ones, and workers did the work', async () => {
    const before = offThreadJobs();
    const staged = new StagingArea().copy(model(3));
    expect(await digestOf(staged)).toBe(stateDigest(model(3)));
    const w = (staged as { model: { w: { data: Float32Array } } }).model.w.data;
    const parts = [Uint8Array.of(1, 2, 3), new Uint8Array(w.buffer, w.byteOffset, w.byteLength)];
    const expected = createHash('sha256').update(parts[0]!).update(parts[1]!).digest('hex');
    expect(await sha256Parts(parts)).toBe(expected);
    const after = offThreadJobs();
    expect(after.digest - before.digest).toBe(1);
    expect(after.sha256 - before.sha256).toBe(1);
    const plain = new Uint8Array(parts[1]!);
    expect(await sha256Parts([plain])).toBe(createHash('sha256').update(plain).digest('hex'));
    expect(offThreadJobs().sha256).toBe(after.sha256);
  });
});
