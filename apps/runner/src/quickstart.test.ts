import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runRunner } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-quickstart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runner quickstart (the main job, as `pnpm start` runs it)', () => {
  it('runs every pipeline end to end and prints where each output went', () => {
    const out = join(dir, 'qs');
    const r = runRunner(['quickstart', '--out', out], { cwd: dir, timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('not there yet');
    const paths = [...r.stdout.matchAll(/(\/[^\s():]+)/g)]
      .map((m) => m[1] as string)
      .filter((p) => p.startsWith(out));
    expect(paths.length).toBeGreaterThan(8);
    for (const p of paths) expect(existsSync(p), `${p} printed but missing`).toBe(true);
    for (const pipeline of ['ired', 'operators', 'timestepper']) {
      expect(r.stdout).toContain(join(out, pipeline));
    }
    const ckpts = readdirSync(join(out, 'ired', 'run', 'checkpoints'));
    expect(ckpts).toContain('step-00000400');
    expect(r.stdout).toMatch(/operators replay: 8\/8 bit-exact/);
    expect(r.stdout).toMatch(/ired: 16 puzzles attempted .*, \d+\/16 boards fully solved/);
    expect(r.stdout).not.toMatch(/solved 16\/16 puzzles/);
    expect(r.stdout).toMatch(/timestepper: +method +force evals +param +max \|ΔE\/E0\|/);
  }, 900_000);
});
