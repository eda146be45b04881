import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RngStreams,
  ValueComponent,
  assertStateMatches,
  captureState,
  isXError,
  markImmutable,
  stateDigest,
  tensorData,
  type Component,
  type State,
  type TensorData,
} from '@x/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bag } from './__fixtures__/components.js';
import { faultyFs } from './__fixtures__/faultyFs.js';
import { stepDirName } from './listing.js';
import { loadCheckpoint } from './checkpointIo.js';
import { nodeFs } from './fsOps.js';
import { CheckpointManager } from './manager.js';
import { parseManifest } from './manifest.js';

const root = mkdtempSync(join(tmpdir(), 'x-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `d${++dirCount}`);

function components(step: number) {
  const rng = new RngStreams(5);
  rng.get('data').uniform();
  return {
    model: new Bag(8).fill(step),
    counters: new ValueComponent({
      step,
      epoch: 1,
      flags: [true, null],
      nan: NaN,
      negZero: -0,
      weird: { $tensor: 'x' },
    }),
    rng,
  };
}

async function expectCode(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isXError(err), `expected XError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (pattern) expect((err as Error).message).toMatch(pattern);
  return err as Error;
}

describe('CheckpointManager save/restore', () => {
  it('round-trips every component exactly and writes the contract layout and manifest', async () => {
    const dir = freshDir();
    const mgr = new CheckpointManager(dir, { versions: { backend: 'none' } });
    const c = components(3);
    const before = await captureState(c);
    const res = await mgr.save(3, c, { metrics: { loss: 0.5, bad: NaN }, metadata: { note: 'x' } });
    expect(res).toEqual({ step: 3, path: join(dir, 'step-00000003'), pending: false });
    expect(readdirSync(res.path).sort()).toEqual([
      'manifest.json',
      'state.json',
      'state.safetensors',
    ]);
    const m = parseManifest(readFileSync(join(res.path, 'manifest.json'), 'utf8'), 'manifest');
    expect(m.step).toBe(3);
    expect(m.formatVersion).toBe(1);
    expect(m.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(m.metrics).toEqual({ loss: 0.5, bad: 'NaN' });
    expect(m.versions['backend']).toBe('none');
    expect(m.versions['@x/checkpoint']).toBe('0.1.0');
    expect(m.stateDigest).toBe(stateDigest(before));
    for (const f of ['state.safetensors', 'state.json']) {
      const bytes = readFileSync(join(res.path, f));
      expect(m.files[f]).toEqual({
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    }
    const fresh = components(0);
    const r = await mgr.restore(fresh);
    expect(r.step).toBe(3);
    expect(r.metadata).toEqual({ note: 'x' });
    expect(r.metrics['bad']).toBeNaN();
    expect(stateDigest(await captureState(fresh))).toBe(stateDigest(before));
    expect(Object.is((fresh.counters.value as { negZero: number }).negZero, -0)).toBe(true);
    expect(await mgr.list()).toMatchObject([{ step: 3 }]);
    expect(await mgr.latest()).toBe(3);
    expect(await mgr.verify(3)).toMatchObject({ ok: true });
  });

  it('never overwrites an existing step and rejects bad steps', async () => {
    const mgr = new CheckpointManager(freshDir());
    await mgr.save(1, components(1));
    await expectCode(mgr.save(1, components(2)), 'INVALID_INPUT', /already exists/);
    await expectCode(mgr.save(-1, components(2)), 'INVALID_INPUT');
    await expectCode(
      mgr.save(2, components(2), { metrics: { loss: 'x' as unknown as number } }),
      'INVALID_INPUT',
      /metrics.loss/,
    );
    await expectCode(
      mgr.save(2, components(2), { metadata: { big: 1n } }),
      'INVALID_INPUT',
      /metadata/,
    );
    await expectCode(mgr.restore(components(0), { step: 7 }), 'NOT_FOUND');
    await expectCode(new CheckpointManager(freshDir()).restore(components(0)), 'NOT_FOUND');
  });

  it('restores into mismatched components with an error naming the leaf path, changing nothing', async () => {
    const mgr = new CheckpointManager(freshDir());
    await mgr.save(1, components(1));
    const wrong = { ...components(0), model: new Bag(5) };
    const before = stateDigest(await captureState(wrong));
    const err = await expectCode(mgr.restore(wrong), 'STATE_MISMATCH', /model\/w/);
    expect(err.message).toMatch(/shape/);
    expect(stateDigest(await captureState(wrong))).toBe(before);
    await expectCode(
      mgr.restore({ ...components(0), extra: new Bag() }),
      'STATE_MISMATCH',
      /extra/,
    );
    const subset = { model: new Bag(8) };
    await mgr.restore(subset);
    expect(subset.model.n).toBe(1);
  });

  it('ignores and cleans temporary leftovers of crashed saves', async () => {
    const dir = freshDir();
    const mgr = new CheckpointManager(dir);
    await mgr.save(1, components(1));
    for (const leftover of ['step-00000002.tmp-4194301-1', 'step-00000001.trash-4194302-9']) {
      mkdirSync(join(dir, leftover));
      writeFileSync(join(dir, leftover, 'state.safetensors'), 'partial');
    }
    writeFileSync(join(dir, 'unrelated.txt'), 'keep');
    const again = new CheckpointManager(dir);
    expect((await again.list()).map((c) => c.step)).toEqual([1]);
    expect(readdirSync(dir).sort()).toEqual(['step-00000001', 'unrelated.txt']);
  });

  it('leaves the temporary directory of a live writer alone', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const live = `step-00000005.tmp-${process.pid}-77`;
    mkdirSync(join(dir, live));
    const mgr = new CheckpointManager(dir);
    expect(await mgr.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual([live]);
  });
});

describe('retention', () => {
  it('keeps the last N, every K-th and the best n; deletes only after the new one is committed', async () => {
    const dir = freshDir();
    const losses = [5, 1, 4, 3, 6, 7, 8, 9, 2.5, 9];
    const mgr = new CheckpointManager(dir, {
      retention: { keepLast: 2, keepEvery: 4, best: { metric: 'loss', mode: 'min', n: 2 } },
    });
    for (let s = 1; s <= losses.length; s++)
      await mgr.save(s, components(s), { metrics: { loss: losses[s - 1]! } });
    expect((await mgr.list()).map((c) => c.step)).toEqual([2, 4, 8, 9, 10]);
    expect(await mgr.best()).toBe(2);
  });

  it('never deletes the newest or the best, even with keepLast 1', async () => {
    const mgr = new CheckpointManager(freshDir(), {
      retention: { keepLast: 1, best: { metric: 'acc', mode: 'max' } },
    });
    const acc = [0.1, 0.9, 0.3, 0.2];
    for (let s = 0; s < acc.length; s++)
      await mgr.save(s * 10, components(s), { metrics: { acc: acc[s]! } });
    expect((await mgr.list()).map((c) => c.step)).toEqual([10, 30]);
  });
});

function corrupt(path: string, at: number): void {
  const b = readFileSync(path);
  b[at] = (b[at] as number) ^ 0xff;
  writeFileSync(path, b);
}

describe('damaged checkpoints', () => {
  // The last flag: only the full verification (`verifyDigest`) can see this damage.
  const damages: [string, (dir: string) => void, RegExp, boolean?][] = [
    [
      'a flipped tensor byte',
      (d) => corrupt(join(d, 'state.safetensors'), statSync(join(d, 'state.safetensors')).size - 3),
      /SHA-256/,
    ],
    [
      'a truncated tensor file',
      (d) =>
        writeFileSync(
          join(d, 'state.safetensors'),
          readFileSync(join(d, 'state.safetensors')).subarray(0, 100),
        ),
      /size/,
    ],
    ['a missing manifest', (d) => rmSync(join(d, 'manifest.json')), /manifest/],
    [
      'an edited state.json',
      (d) =>
        writeFileSync(
          join(d, 'state.json'),
          readFileSync(join(d, 'state.json'), 'utf8').replace('"epoch":1', '"epoch":2'),
        ),
      /state.json/,
    ],
    [
      'a consistent file hash but a wrong state digest',
      (d) => {
        const mp = join(d, 'manifest.json');
        const jp = join(d, 'state.json');
        const text = readFileSync(jp, 'utf8').replace('"epoch":1', '"epoch":2');
        writeFileSync(jp, text);
        const m = JSON.parse(readFileSync(mp, 'utf8'));
        m.files['state.json'].sha256 = createHash('sha256').update(text).digest('hex');
        writeFileSync(mp, JSON.stringify(m));
      },
      /state digest/,
      true,
    ],
  ];
  for (const [name, damage, pattern, digestOnly] of damages) {
    const how = digestOnly === true ? 'restore with verifyDigest' : 'restore';
    it(`detects ${name}: verify fails, ${how} refuses, fallback restores the previous one with a warning`, async () => {
      const ro = digestOnly === true ? { verifyDigest: true } : {};
      const dir = freshDir();
      const warnings: string[] = [];
      const mgr = new CheckpointManager(dir, { onWarning: (w) => warnings.push(w) });
      await mgr.save(1, components(1));
      await mgr.save(2, components(2));
      damage(join(dir, stepDirName(2)));
      const v = await mgr.verify(2);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.problem).toMatch(pattern);
      expect((await mgr.verify(1)).ok).toBe(true);
      const target = components(0);
      const before = stateDigest(await captureState(target));
      await expectCode(mgr.restore(target, ro), 'INTEGRITY', /step-00000002.*damaged/);
      expect(stateDigest(await captureState(target))).toBe(before);
      const r = await mgr.restore(target, { ...ro, allowFallback: true });
      expect(r.step).toBe(1);
      expect(r.warnings).toHaveLength(1);
      expect(warnings).toEqual(r.warnings);
      expect(target.model.n).toBe(1);
      await expectCode(mgr.restore(target, { ...ro, step: 2, allowFallback: true }), 'INTEGRITY');
    });
  }

  it('a default restore (checksums, no digest pass) catches a flipped byte in either file', async () => {
    for (const file of ['state.safetensors', 'state.json']) {
      const dir = freshDir();
      const mgr = new CheckpointManager(dir);
      await mgr.save(1, components(1));
      const path = join(dir, stepDirName(1), file);
      const size = statSync(path).size;
      corrupt(path, file === 'state.json' ? Math.floor(size / 2) : size - 3);
      const target = components(0);
      const before = stateDigest(await captureState(target));
      await expectCode(mgr.restore(target), 'INTEGRITY', new RegExp(`${file}.*SHA-256`));
      expect(stateDigest(await captureState(target))).toBe(before);
    }
  });

  it('an edited stateDigest in an otherwise consistent manifest: only verifyDigest and verify see it', async () => {
    const dir = freshDir();
    const mgr = new CheckpointManager(dir);
    const c = components(1);
    const digest = stateDigest(await captureState(c));
    await mgr.save(1, c);
    const mp = join(dir, stepDirName(1), 'manifest.json');
    const m = JSON.parse(readFileSync(mp, 'utf8'));
    expect(m.stateDigest).toBe(digest);
    m.stateDigest = createHash('sha256').update('not the state').digest('hex');
    writeFileSync(mp, JSON.stringify(m, null, 2));
    const target = components(0);
    const before = stateDigest(await captureState(target));
    await expectCode(
      mgr.restore(target, { verifyDigest: true }),
      'INTEGRITY',
      new RegExp(`state digest ${digest} does not match the manifest`),
    );
    expect(stateDigest(await captureState(target))).toBe(before);
    const v = await mgr.verify(1);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problem).toMatch(/state digest/);
    // The default restore trusts the checksummed files and returns the manifest as written.
    const r = await mgr.restore(target);
    expect(r.manifest.stateDigest).toBe(m.stateDigest);
    expect(stateDigest(await captureState(target))).toBe(digest);
  });

  it('validates restore options', async () => {
    const mgr = new CheckpointManager(freshDir());
    await mgr.save(1, components(1));
    const bad = { verifyDigest: 'yes' } as unknown as { verifyDigest: boolean };
    await expectCode(mgr.restore(components(0), bad), 'INVALID_CONFIG', /verifyDigest/);
    const typo = { verifyDigests: true } as unknown as { verifyDigest: boolean };
    await expectCode(mgr.restore(components(0), typo), 'INVALID_CONFIG', /verifyDigests/);
  });
});

/**
 * Hands out its live array through `snapshot()` (a view, as tfjs's wasm backend does) and an
 * immutable one (as its cpu backend does); counts which capture the manager used.
 */
class Live implements Component {
  w = Float32Array.from({ length: 4096 }, (_, i) => i / 7);
  frozen = markImmutable(Float32Array.from([5, 6]));
  snapshots = 0;
  getStates = 0;

  #tree(w: Float32Array): State {
    return {
      w: { dtype: 'float32', shape: [this.w.length], data: w },
      frozen: { dtype: 'float32', shape: [2], data: this.frozen },
    };
  }

  getState(): State {
    this.getStates++;
    return this.#tree(this.w.slice());
  }

  snapshot(): State {
    this.snapshots++;
    // Other work on the event loop (a timer, a concurrent step) overwrites the live array in
    // place as soon as the capture yields, while the write is still running.
    setImmediate(() => this.w.fill(-1));
    return this.#tree(this.w);
  }

  setState(s: State): void {
    assertStateMatches(this.#tree(this.w), s);
    const t = s as Record<string, TensorData<'float32'>>;
    this.w = (t['w'] as TensorData<'float32'>).data.slice();
    this.frozen = markImmutable((t['frozen'] as TensorData<'float32'>).data.slice());
  }
}

describe('saving components with snapshot()', () => {
  for (const background of [false, true]) {
    it(`${background ? 'async' : 'sync'}: captures through snapshot(); the views are copied before anything else runs`, async () => {
      const mgr = new CheckpointManager(freshDir(), { async: background });
      const live = new Live();
      const c = { live, counter: new ValueComponent({ n: 1 }) };
      const expected = stateDigest(await captureState(c));
      live.getStates = 0;
      await mgr.save(1, c);
      expect([live.snapshots, live.getStates]).toEqual([1, 0]);
      live.w.fill(-2); // the next training step overwrites it too
      await mgr.wait();
      const fresh = { live: new Live(), counter: new ValueComponent({ n: 0 }) };
      fresh.live.w.fill(0);
      await mgr.restore(fresh);
      expect(stateDigest(await captureState(fresh))).toBe(expected);
      expect(Array.from(fresh.live.frozen)).toEqual([5, 6]);
    });
  }

  it('a state of immutable arrays is written from the arrays themselves', async () => {
    const mgr = new CheckpointManager(freshDir(), { async: true });
    const frozen = markImmutable(Float32Array.from({ length: 1 << 16 }, (_, i) => i));
    const comp: Component = {
      getState: () => ({ t: tensorData('float32', [frozen.length], frozen) }),
      snapshot: () => ({ t: { dtype: 'float32', shape: [frozen.length], data: frozen } }),
      setState: () => undefined,
    };
    const { path } = await mgr.save(1, { comp });
    // Breaking the promise after save returned shows the write read this very array.
    frozen[0] = 42;
    await mgr.wait();
    const back = await loadCheckpoint(nodeFs, path);
    expect((back.state['comp'] as Record<string, TensorData>)['t']?.data[0]).toBe(42);
  });
});

describe('arrays pinned for a snapshot', () => {
  /** A component whose snapshot pins its array until released (as tfjs's threaded wasm does). */
  function pinned() {
    const counts = { released: 0 };
    const data = Float32Array.from({ length: 1 << 12 }, (_, i) => i);
    const comp: Component = {
      getState: () => ({ t: tensorData('float32', [data.length], data) }),
      snapshot: () => ({
        t: {
          dtype: 'float32',
          shape: [data.length],
          data: markImmutable(data.subarray(0), () => counts.released++),
        },
      }),
      setState: () => undefined,
    };
    return { comp, counts };
  }

  it('are released once the write is done, sync or async', async () => {
    const sync = pinned();
    await new CheckpointManager(freshDir()).save(1, { c: sync.comp });
    expect(sync.counts.released).toBe(1);
    const bg = pinned();
    const mgr = new CheckpointManager(freshDir(), { async: true });
    await mgr.save(1, { c: bg.comp });
    expect(bg.counts.released).toBe(0); // still being written
    await mgr.wait();
    expect(bg.counts.released).toBe(1);
  });

  it('are released when the save fails', async () => {
    const fault = { op: 'write' as const, code: 'EIO', pathIncludes: 'step-', active: true };
    const p = pinned();
    const sync = new CheckpointManager(freshDir(), { fs: faultyFs(fault) });
    await expectCode(sync.save(1, { c: p.comp }), 'INTERNAL', /EIO/);
    expect(p.counts.released).toBe(1);
    const full = pinned();
    const noSpace = new CheckpointManager(freshDir(), {
      fs: faultyFs({ op: 'write', code: 'EIO', pathIncludes: 'never', freeBytes: 10 }),
    });
    await expectCode(noSpace.save(1, { c: full.comp }), 'ENVIRONMENT', /disk space/);
    expect(full.counts.released).toBe(1);
  });
});

describe('async save', () => {
  it('captures the state when save returns; later mutations do not leak in', async () => {
    const mgr = new CheckpointManager(freshDir(), { async: true });
    const c = components(4);
    const expected = stateDigest(await captureState(c));
    const res = await mgr.save(4, c);
    expect(res.pending).toBe(true);
    c.model.w.fill(123);
    c.model.n = 99;
    await mgr.wait();
    const fresh = components(0);
    await mgr.restore(fresh);
    expect(stateDigest(await captureState(fresh))).toBe(expected);
  });

  it('keeps at most one save in flight and commits them in order', async () => {
    const mgr = new CheckpointManager(freshDir(), { async: true, retention: { keepLast: 2 } });
    const saves = [1, 2, 3, 4].map((s) => mgr.save(s, components(s)));
    await Promise.all(saves);
    await mgr.close();
    expect((await mgr.list()).map((c) => c.step)).toEqual([3, 4]);
  });

  it('surfaces a background failure on the next call, then works again', async () => {
    const dir = freshDir();
    const fault = {
      op: 'write' as const,
      code: 'EIO',
      pathIncludes: 'step-00000002',
      active: true,
    };
    const mgr = new CheckpointManager(dir, { async: true, fs: faultyFs(fault) });
    await mgr.save(1, components(1));
    expect((await mgr.save(2, components(2))).pending).toBe(true);
    await expectCode(mgr.save(3, components(3)), 'INTERNAL', /step-00000002.*EIO/);
    fault.active = false;
    await mgr.save(3, components(3));
    await mgr.wait();
    expect((await mgr.list()).map((c) => c.step)).toEqual([1, 3]);
    expect(readdirSync(dir).sort()).toEqual(['step-00000001', 'step-00000003']);
  });
});
