import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, stateDigest } from '@x/core';
import { spawnTs } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { Bag } from './__fixtures__/components.js';
import { CheckpointManager } from './manager.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, '__fixtures__', 'crashChild.ts');
const root = mkdtempSync(join(tmpdir(), 'x-ckpt-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Starts the saving child, waits until it has saved at least once, then SIGKILLs it after `delayMs`. */
function runAndKill(dir: string, mode: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawnTs(child, [dir, mode]);
    let out = '';
    let err = '';
    let armed = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && out.includes('saved ')) {
        armed = true;
        setTimeout(() => p.kill('SIGKILL'), delayMs);
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${err}`));
      else resolve((out.match(/saved \d+/g) ?? []).length);
    });
  });
}

describe('crash safety under SIGKILL (real processes)', () => {
  it('after each of 12 kills at random moments, every listed checkpoint verifies and the newest restores', async () => {
    const dir = join(root, 'ckpts');
    const rng = Rng.fromSeed(31337).stream('kill-delays');
    let leftoversSeen = 0;
    let saves = 0;
    for (let kill = 0; kill < 12; kill++) {
      saves += await runAndKill(dir, kill % 2 === 0 ? 'sync' : 'async', rng.int(0, 250));
      if (readdirSync(dir).some((n) => n.includes('.tmp-') || n.includes('.trash-')))
        leftoversSeen++;
      const mgr = new CheckpointManager(dir);
      const listed = await mgr.list();
      expect(listed.length).toBeGreaterThan(0);
      for (const c of listed) {
        const v = await mgr.verify(c.step);
        expect(v.ok, `kill ${kill}: step ${c.step}: ${v.ok ? '' : v.problem}`).toBe(true);
      }
      const newest = listed.at(-1)!.step;
      const model = new Bag(1 << 18);
      const r = await mgr.restore({ model });
      expect(r.step).toBe(newest);
      expect(stateDigest(model.getState())).toBe(
        stateDigest(new Bag(1 << 18).fill(newest).getState()),
      );
      expect(readdirSync(dir).every((n) => /^step-\d{8}$/.test(n))).toBe(true);
    }
    expect(saves).toBeGreaterThanOrEqual(12);
    expect(
      leftoversSeen,
      'no kill landed inside a save; the test did not exercise a crash mid-write',
    ).toBeGreaterThan(0);
  }, 240_000);
});
