import { availableParallelism } from 'node:os';
import { sharedTensorData, stateDigest, tensorData } from '@x/core';
import { describe, expect, it } from 'vitest';
import { killCopyThreads, offThreadCopiedBytes } from './copyThreads.js';
import { isShared } from './hashing.js';
import { StagingArea } from './staging.js';

const MiB = 1 << 20;

function filled(shared: boolean, n: number, seed: number) {
  const values = Float32Array.from(
    { length: n },
    (_, i) => ((i * 2654435761 + seed) >>> 0) / 2 ** 32,
  );
  return shared ? sharedTensorData('float32', [n], values) : tensorData('float32', [n], values);
}

describe('staging copies of shared state on several threads', () => {
  it('splits shared tensors between the main thread and helpers; the copy equals the state', async () => {
    const state = {
      a: filled(true, (3 * MiB) / 4, 1),
      b: filled(true, (5 * MiB) / 4 + 3, 2),
      small: filled(true, 100, 3),
      plain: filled(false, MiB / 4, 4),
      meta: { step: 7 },
    };
    const before = offThreadCopiedBytes();
    const staged = await new StagingArea().copy(state);
    const moved = offThreadCopiedBytes() - before;
    expect(stateDigest(staged)).toBe(stateDigest(state));
    expect([staged.a, staged.b, staged.small, staged.plain].every((t) => isShared(t.data))).toBe(
      true,
    );
    // Helpers took part of the large shared tensors (never the small or the unshared one), and
    // the main thread kept a share too.
    const big = state.a.data.byteLength + state.b.data.byteLength;
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(big);
    const helpers = Math.max(1, Math.min(3, availableParallelism() - 1));
    const total = big + state.small.data.byteLength + state.plain.data.byteLength;
    expect(Math.abs(moved - (helpers * total) / (helpers + 1))).toBeLessThan(MiB / 2);
    // Independent of the source afterwards.
    state.a.data.fill(0);
    expect(stateDigest(staged)).not.toBe(stateDigest(state));
  });

  it('shares the tensors `keep` picks and copies the rest', async () => {
    const state = { a: filled(false, 1000, 6), b: { c: filled(true, 10, 7), n: 3 } };
    const staged = await new StagingArea().copy(state, (t) => t === state.b.c);
    expect(staged.b.c).toBe(state.b.c);
    expect(staged.a).not.toBe(state.a);
    expect(isShared(staged.a.data)).toBe(true);
    expect(stateDigest(staged)).toBe(stateDigest(state));
    state.a.data.fill(0);
    expect(Array.from(staged.a.data.subarray(0, 3))).not.toEqual([0, 0, 0]);
  });

  it('copies on the main thread alone when the helpers died', async () => {
    const state = { w: filled(true, MiB, 5) };
    await new StagingArea().copy(state);
    await killCopyThreads();
    const before = offThreadCopiedBytes();
    const staged = await new StagingArea().copy(state);
    expect(offThreadCopiedBytes()).toBe(before);
    expect(stateDigest(staged)).toBe(stateDigest(state));
  });
});
