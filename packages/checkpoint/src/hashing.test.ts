import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, isTensorData, stateDigest, tensorData, type State } from '@x/core';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureState } from './__fixtures__/v1State.js';
import { digestParts } from './digestParts.js';
import {
  digestOf,
  fileAndStateSha,
  isShared,
  killHashThreads,
  offThreadJobs,
  sha256Of,
  sha256Parts,
} from './hashing.js';
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

/** A state over the 1 MiB inline threshold: two 1.2 MB float32 tensors and small leaves. */
function bigModel(seed: number): State {
  const rng = Rng.fromSeed(seed).stream('hashing-test/big');
  const w = tensorData('float32', [300_000]);
  const v = tensorData('float32', [300_000]);
  for (let i = 0; i < w.data.length; i += 7) w.data[i] = rng.normal();
  for (let i = 0; i < v.data.length; i += 5) v.data[i] = rng.normal();
  return { model: { w, layers: [{ v, step: 3 }, 'x'] } };
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
  it('a staged copy is shared, equal to the original, and independent of it', async () => {
    const area = new StagingArea();
    const s = model(1);
    const staged = await area.copy(s);
    expect(tensors(staged).every(isShared)).toBe(true);
    expect(tensors(s).some(isShared)).toBe(false);
    expect(stateDigest(staged)).toBe(stateDigest(s));
    (s as unknown as Model).model.w.data.fill(0);
    expect(stateDigest(staged)).not.toBe(stateDigest(s));
    const again = await area.copy(model(2));
    expect(stateDigest(again)).toBe(stateDigest(model(2)));
  });

  it('worker digests and checksums equal the main-thread ones, and workers did the work', async () => {
    const before = offThreadJobs();
    // Small sequences (< 1 MiB) are hashed on the main thread: a round trip costs more.
    expect(await digestOf(await new StagingArea().copy(model(3)))).toBe(stateDigest(model(3)));
    expect(await digestOf(model(3))).toBe(stateDigest(model(3)));
    expect(offThreadJobs()).toEqual(before);
    // Large ones go to the workers: unshared bytes through each thread's ring, shared in place.
    const big = bigModel(4);
    const staged = await new StagingArea().copy(big);
    expect(await digestOf(big)).toBe(stateDigest(big));
    expect(await digestOf(staged)).toBe(stateDigest(big));
    const w = (staged as unknown as Model).model.w.data;
    const shared = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
    const parts = [Uint8Array.of(1, 2, 3), shared];
    expect(await sha256Parts(parts)).toBe(sha(parts));
    expect(await sha256Parts([new Uint8Array(shared)])).toBe(sha([shared]));
    const after = offThreadJobs();
    expect(after.digest - before.digest).toBe(2);
    expect(after.sha256 - before.sha256).toBe(2);
  });

  it('streams coalesce odd-sized, shared and unshared parts in order, concurrently on both threads, reusing their ring slots', async () => {
    const rng = Rng.fromSeed(9).stream('hashing-test/parts');
    const bytes = (n: number, shared = false) => {
      const b = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
      for (let i = 0; i < n; i += 61) b[i] = rng.int(0, 256);
      return b;
    };
    const MiB = 1 << 20;
    const parts = [
      bytes(1),
      bytes(4 * MiB + 3),
      bytes(7),
      bytes(2 * MiB, true),
      bytes(100, true),
      bytes(0),
      bytes(9 * MiB - 5),
      bytes(3 * MiB + 1, true),
      bytes(65_537),
    ];
    const expected = sha(parts);
    const reversed = [...parts].reverse();
    // `read` fills ring slots itself (as a file read does), here from one big source.
    const source = bytes(11 * MiB + 9);
    const fromSource = (into: Uint8Array, pos: number) => {
      into.set(source.subarray(pos, pos + into.length));
      return Promise.resolve();
    };
    const round = () =>
      Promise.all([
        sha256Of('file', async (sink) => {
          for (const p of parts) await sink.update(p);
          await sink.read(5, source.length - 5, fromSource);
          await sink.update(parts[0]!);
        }),
        sha256Of('digest', async (sink) => {
          for (const p of reversed) await sink.update(p);
        }),
      ]);
    const expectedFile = sha([...parts, source.subarray(5), parts[0]!]);
    expect(await round()).toEqual([expectedFile, sha(reversed)]);
    const slots = offThreadJobs().slots;
    for (let i = 0; i < 3; i++) expect(await round()).toEqual([expectedFile, sha(reversed)]);
    expect(offThreadJobs().slots).toBe(slots);
    expect(expected).toBe(sha(parts));
    // A failure of the bytes' source ends the stream and propagates; the thread keeps working.
    const boom = new Error('read failed');
    await expect(
      sha256Of('file', async (sink) => {
        await sink.update(parts[1]!);
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(
      sha256Of('file', (sink) =>
        sink.read(0, 9 * MiB, (_into, pos) => (pos > 0 ? Promise.reject(boom) : Promise.resolve())),
      ),
    ).rejects.toBe(boom);
    expect((await round())[0]).toBe(expectedFile);
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
    const digestsBefore = offThreadJobs().digest;
    await mgr.save(1, comp);
    expect(offThreadJobs().sha256 - before).toBe(1);
    expect(offThreadJobs().digest - digestsBefore).toBe(1);
    const file = join(dir, 'step-00000001', 'state.safetensors');
    const manifest = JSON.parse(readFileSync(join(dir, 'step-00000001', 'manifest.json'), 'utf8'));
    expect(manifest.files['state.safetensors'].sha256).toBe(sha([readFileSync(file)]));
    expect(manifest.stateDigest).toBe(stateDigest({ model: { w, step: 3 } }));
    held = {};
    await mgr.restore(comp);
    expect(offThreadJobs().sha256 - before).toBe(2);
    expect(offThreadJobs().digest - digestsBefore).toBe(1); // no digest pass by default
    held = {};
    await mgr.restore(comp, { verifyDigest: true });
    expect(offThreadJobs().digest - digestsBefore).toBe(2);
    expect(stateDigest(held)).toBe(stateDigest({ w, step: 3 }));
    const fd = openSync(file, 'r+');
    writeSync(fd, Uint8Array.of(0x55), 0, 1, 4_000_000);
    closeSync(fd);
    const v = await mgr.verify(1);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problem).toMatch(/SHA-256/);
  });

  it('the two hashes of a save share one copy of each tensor chunk while the orders agree, and stay exact when they do not', async () => {
    const rng = Rng.fromSeed(11).stream('hashing-test/tee');
    const bytes = (n: number, shared = false) => {
      const b = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
      for (let i = 0; i < n; i += 53) b[i] = rng.int(0, 256);
      return b;
    };
    const MiB = 1 << 20;
    const t = [
      bytes(5 * MiB + 1),
      bytes(100_000),
      bytes(3 * MiB, true),
      bytes(9 * MiB),
      bytes(2 * MiB),
    ];
    const [t0, t1, t2, t3, t4] = t as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.length);
    const cases: [Uint8Array[], Uint8Array[]][] = [
      // Same tensor order (views made separately, as the layout and digestParts do).
      [
        [bytes(64), t0, t1, t2, t3, t4],
        [bytes(9), view(t0), bytes(17), view(t1), view(t2), bytes(3), view(t3), view(t4), bytes(5)],
      ],
      // Orders differ after the second tensor; tiny parts only.
      [
        [bytes(64), t0, t1, t3, t2, t4],
        [view(t0), view(t1), bytes(1), view(t4), view(t3), view(t2)],
      ],
      [[bytes(10)], [bytes(20)]],
    ];
    // Teed: every large unshared tensor while the orders agree (not t2: shared, read in place).
    const teed = [t0.length + t1.length + t3.length + t4.length, t0.length + t1.length, 0];
    for (const [k, [file, state]] of cases.entries()) {
      const was = offThreadJobs().teedBytes;
      expect(await fileAndStateSha(file, state)).toEqual([sha(file), sha(state)]);
      expect(offThreadJobs().teedBytes - was).toBe(teed[k]);
    }
    const before = offThreadJobs();
    for (let i = 0; i < 2; i++)
      expect(await fileAndStateSha(cases[0]![0], cases[0]![1])).toEqual([
        sha(cases[0]![0]),
        sha(cases[0]![1]),
      ]);
    const after = offThreadJobs();
    expect(after.sha256 - before.sha256).toBe(2);
    expect(after.digest - before.digest).toBe(2);
    expect(after.slots).toBe(before.slots);
  });

  it('when the threads die mid-stream, the bytes are hashed again on the main thread', async () => {
    const a = new Uint8Array(6 << 20).fill(7);
    const b = new Uint8Array(3 << 20).fill(9);
    let fed = 0;
    const hex = await sha256Of('file', async (sink) => {
      fed++;
      await sink.update(a);
      if (fed === 1) await killHashThreads();
      await sink.read(1, b.length - 1, (into, pos) => {
        into.set(b.subarray(pos, pos + into.length));
        return Promise.resolve();
      });
    });
    expect(hex).toBe(sha([a, b.subarray(1)]));
    expect(fed).toBe(2);
    const before = offThreadJobs();
    const big = bigModel(6);
    expect(await digestOf(big)).toBe(stateDigest(big));
    expect(await sha256Parts([a, b])).toBe(sha([a, b]));
    expect(offThreadJobs()).toEqual(before);
  });
});
