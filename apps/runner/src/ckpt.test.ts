import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointManager } from '@x/checkpoint';
import { ValueComponent, captureState, stateDigest, tensorData } from '@x/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIO } from './cli.js';
import { ckptCommands } from './commands/ckpt.js';
import { runRunner } from './testkit.js';

const root = mkdtempSync(join(tmpdir(), 'x-runner-ckpt-'));
const runDir = join(root, 'run');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function io(): CliIO & { out: string; err: string } {
  const r = {
    out: '',
    err: '',
    cwd: root,
    stdout: (t: string) => void (r.out += t),
    stderr: (t: string) => void (r.err += t),
  };
  return r;
}

async function cli(...args: string[]) {
  const r = io();
  const code = await runCli(ckptCommands, args, r);
  return { code, out: r.out, err: r.err };
}

const digests: Record<number, string> = {};
beforeAll(async () => {
  const mgr = new CheckpointManager(join(runDir, 'checkpoints'));
  for (const step of [10, 20]) {
    const comps = {
      model: new ValueComponent({ kernel: tensorData('float32', [2, 3], [1, 2, 3, 4, 5, step]) }),
      trainer: new ValueComponent({ step }),
    };
    await mgr.save(step, comps, { metrics: { loss: 1 / step } });
    digests[step] = stateDigest(await captureState(comps));
  }
});

describe('runner ckpt', () => {
  it('list shows every checkpoint; --verify checks them', async () => {
    const r = await cli('ckpt', 'list', 'run', '--verify');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\s+10 .* ok .*loss=0\.1/m);
    expect(r.out).toMatch(/^\s+20 .* ok /m);
  });

  it('inspect prints the manifest and the tensor table', async () => {
    const r = await cli('ckpt', 'inspect', 'run/checkpoints/step-00000010');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/step\s+10/);
    expect(r.out).toMatch(/model\/kernel\s+F32\s+\[2, 3\]/);
    expect(r.out).toContain(digests[10]);
    expect(r.out).toMatch(/trainer\/step = 10/);
  });

  it('digest prints the state digest as the last stdout line (run dir = newest valid)', async () => {
    const r = await cli('ckpt', 'digest', 'run');
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n').at(-1)).toBe(digests[20]);
    const one = await cli('ckpt', 'digest', 'run/checkpoints/step-00000010');
    expect(one.out.trimEnd().split('\n').at(-1)).toBe(digests[10]);
  });

  it('verify exits 1 on a damaged checkpoint (real process), digest falls back with a warning', async () => {
    expect((await cli('ckpt', 'verify', 'run')).code).toBe(0);
    const file = join(runDir, 'checkpoints', 'step-00000020', 'state.safetensors');
    const b = readFileSync(file);
    b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
    writeFileSync(file, b);
    const bad = runRunner(['ckpt', 'verify', join(runDir, 'checkpoints', 'step-00000020')], {
      timeoutMs: 150_000,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/check failed: .*state\.safetensors: SHA-256/);
    expect((await cli('ckpt', 'verify', 'run')).code).toBe(1);
    expect((await cli('ckpt', 'list', 'run', '--verify')).code).toBe(1);
    const d = await cli('ckpt', 'digest', 'run');
    expect(d.code).toBe(0);
    expect(d.err).toMatch(/warning: .*step-00000020 is damaged/);
    expect(d.out.trimEnd().split('\n').at(-1)).toBe(digests[10]);
    expect((await cli('ckpt', 'digest', 'run/checkpoints/step-00000020')).code).toBe(1);
    expect((await cli('ckpt', 'list', 'nowhere')).code).toBe(2);
  }, 180_000);

  it('verify checks all that restore checks: the step of the directory name and the component list', async () => {
    const other = join(root, 'other');
    const mgr = new CheckpointManager(join(other, 'checkpoints'));
    const comps = {
      model: new ValueComponent({ kernel: tensorData('float32', [2], [1, 2]) }),
      trainer: new ValueComponent({ step: 5 }),
    };
    await mgr.save(5, comps);
    await mgr.save(6, comps);
    const ck = join(other, 'checkpoints');
    // A checkpoint copied under another step's name: every checksum is fine.
    cpSync(join(ck, 'step-00000005'), join(ck, 'step-00000007'), { recursive: true });
    const named = await cli('ckpt', 'verify', join(ck, 'step-00000007'));
    expect(named.code).toBe(1);
    expect(named.err).toContain('manifest says step 5, the directory name says step 7');
    const restore = new CheckpointManager(ck);
    await expect(restore.restore(comps)).rejects.toThrow(/directory name says step 7/);
    rmSync(join(ck, 'step-00000007'), { recursive: true });
    // A manifest whose component list disagrees with the state.
    const mPath = join(ck, 'step-00000006', 'manifest.json');
    const m = JSON.parse(readFileSync(mPath, 'utf8')) as { components: string[] };
    writeFileSync(mPath, JSON.stringify({ ...m, components: ['model'] }));
    const listed = await cli('ckpt', 'verify', join(ck, 'step-00000006'));
    expect(listed.code).toBe(1);
    expect(listed.err).toContain(
      'the manifest lists components [model] but the state holds [model, trainer]',
    );
    await expect(new CheckpointManager(ck).restore(comps)).rejects.toThrow(
      /manifest lists components/,
    );
  });
});
