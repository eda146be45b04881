import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isXError, stateDigest, captureState } from '@x/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bag } from './__fixtures__/components.js';
import { faultyFs, type Fault } from './__fixtures__/faultyFs.js';
import { CheckpointManager } from './manager.js';

const root = mkdtempSync(join(tmpdir(), 'x-ckpt-disk-'));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(root, `d${++n}`);

/** Mounts a tmpfs of `size` at a fresh directory; undefined when mounting is not permitted. */
function tmpfs(size: string): string | undefined {
  const dir = freshDir();
  mkdirSync(dir);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {
    stdio: 'ignore',
  });
  if (r.status !== 0) return undefined;
  mounts.push(dir);
  return dir;
}
const canMount = (() => {
  const d = tmpfs('64k');
  return d !== undefined;
})();
const isRoot = process.getuid?.() === 0;

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(isXError(err), String(err)).toBe(true);
    return err as { code: string; message: string };
  }
  throw new Error('expected a failure');
}

async function expectIntact(dir: string, steps: number[]): Promise<void> {
  const mgr = new CheckpointManager(dir);
  expect((await mgr.list()).map((c) => c.step)).toEqual(steps);
  for (const s of steps) expect((await mgr.verify(s)).ok).toBe(true);
  expect(readdirSync(dir).sort()).toEqual(steps.map((s) => `step-${String(s).padStart(8, '0')}`));
  const b = new Bag(16);
  await mgr.restore({ model: b });
  expect(b.n).toBe(steps.at(-1));
}

describe('disk full (real tmpfs)', () => {
  it.skipIf(!canMount)(
    'refuses before writing when free space is short, earlier checkpoints intact',
    async () => {
      const dir = tmpfs('1m')!;
      const mgr = new CheckpointManager(dir, { minFreeBytes: 0 });
      await mgr.save(1, { model: new Bag(16).fill(1) });
      const big = new Bag(16).fill(2);
      big.w = new Float32Array(600_000);
      (big as { size: number }).size = 600_000;
      const err = await codeOf(mgr.save(2, { model: big }));
      expect(err.code).toBe('ENVIRONMENT');
      expect(err.message).toMatch(/not enough disk space.*step-00000002/);
      await expectIntact(dir, [1]);
    },
  );

  it.skipIf(!canMount)(
    'a real ENOSPC during the write fails cleanly (statfs bypassed)',
    async () => {
      const dir = tmpfs('1m')!;
      const mgr = new CheckpointManager(dir, {
        fs: faultyFs({ op: 'open', code: 'X', active: false, freeBytes: 1e12 }),
      });
      await mgr.save(1, { model: new Bag(16).fill(1) });
      const big = new Bag(600_000).fill(2);
      const err = await codeOf(mgr.save(2, { model: big }));
      expect(err.code).toBe('ENVIRONMENT');
      expect(err.message).toMatch(/ENOSPC/);
      expect(err.message).toMatch(/earlier checkpoints are intact/);
      await expectIntact(dir, [1]);
      await mgr.save(3, { model: new Bag(16).fill(3) });
      await expectIntact(dir, [1, 3]);
    },
  );

  it.skipIf(!canMount)(
    'a read-only file system (EROFS) fails cleanly and restore still works',
    async () => {
      const dir = tmpfs('1m')!;
      const mgr = new CheckpointManager(dir, { minFreeBytes: 0 });
      const c = { model: new Bag(16).fill(1) };
      await mgr.save(1, c);
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      try {
        const err = await codeOf(mgr.save(2, { model: new Bag(16).fill(2) }));
        expect(err.code, err.message).toBe('ENVIRONMENT');
        expect(err.message).toMatch(/read-only|EROFS/);
        const back = { model: new Bag(16) };
        await mgr.restore(back);
        expect(stateDigest(await captureState(back))).toBe(stateDigest(await captureState(c)));
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', dir]);
      }
      await expectIntact(dir, [1]);
    },
  );
  if (!canMount)
    it.skip('mount -t tmpfs is not permitted here; real disk-full cases skipped (seams below still run)', () => {});
});

describe('injected failures at every stage (write seam)', () => {
  const cases: [string, Fault, RegExp][] = [
    [
      'ENOSPC mid tensor write',
      { op: 'write', code: 'ENOSPC', pathIncludes: 'safetensors', afterBytes: 200 },
      /no space left.*ENOSPC/,
    ],
    [
      'ENOSPC writing the manifest',
      { op: 'write', code: 'ENOSPC', pathIncludes: 'manifest' },
      /ENOSPC/,
    ],
    ['EDQUOT on fsync', { op: 'sync', code: 'EDQUOT', pathIncludes: 'state.json' }, /quota/],
    [
      'EACCES creating the temporary directory',
      { op: 'mkdir', code: 'EACCES', pathIncludes: '.tmp-' },
      /permission denied/,
    ],
    [
      'EACCES on the commit rename',
      { op: 'rename', code: 'EACCES', pathIncludes: 'step-00000002' },
      /permission denied/,
    ],
    [
      'EPERM creating a file',
      { op: 'open', code: 'EPERM', pathIncludes: 'state.json' },
      /not permitted/,
    ],
  ];
  for (const [name, fault, pattern] of cases) {
    it(`${name}: ENVIRONMENT error naming the checkpoint, earlier ones intact`, async () => {
      const dir = freshDir();
      const f = { ...fault, active: false };
      const mgr = new CheckpointManager(dir, { fs: faultyFs(f) });
      await mgr.save(1, { model: new Bag(16).fill(1) });
      f.active = true;
      const err = await codeOf(mgr.save(2, { model: new Bag(16).fill(2) }));
      expect(err.code).toBe('ENVIRONMENT');
      expect(err.message).toMatch(/step-00000002/);
      expect(err.message).toMatch(pattern);
      await expectIntact(dir, [1]);
    });
  }
});

describe('permission denied (real, as a non-root user)', () => {
  it.skipIf(isRoot)(
    'a read-only checkpoint directory gives ENVIRONMENT and leaves checkpoints intact',
    async () => {
      const dir = freshDir();
      const mgr = new CheckpointManager(dir);
      await mgr.save(1, { model: new Bag(16).fill(1) });
      chmodSync(dir, 0o555);
      try {
        const err = await codeOf(mgr.save(2, { model: new Bag(16).fill(2) }));
        expect(err.code).toBe('ENVIRONMENT');
        expect(err.message).toMatch(/permission denied|EACCES/);
      } finally {
        chmodSync(dir, 0o755);
      }
      await expectIntact(dir, [1]);
    },
  );
  if (isRoot)
    it.skip('running as root: chmod does not deny root, so the real EACCES case is skipped (the seam case above runs)', () => {});
});
