import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeBackends } from '@x/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { runRunnerAsync, tinyTimestepperArgs } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-webgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (args: string[]) => runRunnerAsync(args, { cwd: dir });

const probe = (await probeBackends({ searchAdapters: true })).find((p) => p.name === 'webgpu');
const why = probe?.available === true ? '' : ` (skipped: no WebGPU adapter: ${probe?.detail})`;

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
}

const tinyIred = [
  ...['model.channels=4', 'model.blocks=1', 'model.kernel=3', 'model.timeDim=8'],
  ...['model.fourierDim=8', 'train.batchSize=2', 'diffusion.landscapes=3'],
  'diffusion.optSteps=1',
].flatMap((kv) => ['--set', kv]);

/** Trains `steps` straight and 1 + --resume to `steps`; both runs as real processes on webgpu. */
async function straightAndResumed(pipeline: string[], flags: string[], steps: number) {
  const common = [...flags, '--backend', 'webgpu', '--quiet'];
  const [straight, half] = await Promise.all([
    run([...pipeline, '--out', join(dir, `${pipeline[0]}-a`), '--steps', String(steps), ...common]),
    run([...pipeline, '--out', join(dir, `${pipeline[0]}-b`), '--steps', '1', ...common]),
  ]);
  expect(straight.code, straight.stderr).toBe(0);
  expect(half.code, half.stderr).toBe(0);
  const resumed = await run([
    pipeline[0] as string,
    'train',
    '--resume',
    join(dir, `${pipeline[0]}-b`),
    '--steps',
    String(steps),
    '--backend',
    'webgpu',
    '--quiet',
  ]);
  expect(resumed.code, resumed.stderr).toBe(0);
  return { straight: lastJson(straight.stdout), resumed: lastJson(resumed.stdout) };
}

describe.skipIf(probe?.available !== true)(`training on --backend webgpu${why}`, () => {
  it('IRED trains and resumes bit-exactly on the same backend (state digest)', async () => {
    const r = await straightAndResumed(['ired', 'train'], tinyIred, 2);
    expect(r.resumed['step']).toBe(2);
    expect(r.resumed['digest']).toBe(r.straight['digest']);
  }, 400_000);

  it('timestepper trains and resumes bit-exactly on the same backend (state digest)', async () => {
    const r = await straightAndResumed(
      ['timestepper', 'train'],
      [...tinyTimestepperArgs, '--problem', 'figure8'],
      2,
    );
    expect(r.resumed['step']).toBe(2);
    expect(r.resumed['digest']).toBe(r.straight['digest']);
  }, 400_000);
});
