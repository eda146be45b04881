import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runRunner, spawnRunner, tinyTimestepperArgs } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-preempt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = tinyTimestepperArgs;

function checkpointSteps(runDir: string): number[] {
  const ck = join(runDir, 'checkpoints');
  if (!existsSync(ck)) return [];
  return readdirSync(ck)
    .filter((d) => /^step-\d{8}$/.test(d))
    .map((d) => Number(d.slice(5)))
    .sort((a, b) => a - b);
}

describe('preemption (SIGTERM) of a training run', () => {
  it('stops at a step boundary, writes a final checkpoint, exits 143, and resumes from it', async () => {
    const runDir = join(dir, 'run');
    const child = spawnRunner(
      [
        'timestepper',
        'train',
        '--problem',
        'kepler',
        ...tiny,
        '--steps',
        '100000',
        '--save-every',
        '3',
        '--backend',
        'cpu',
        '--quiet',
        '--out',
        runDir,
      ],
      { cwd: dir },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const deadline = Date.now() + 240_000;
    while (
      checkpointSteps(runDir).length === 0 &&
      Date.now() < deadline &&
      child.exitCode === null
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(checkpointSteps(runDir).length, stderr).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, stderr).toBe(143);
    expect(stderr).toContain('SIGTERM received');
    const steps = checkpointSteps(runDir);
    const final = steps[steps.length - 1] as number;
    expect(final).toBeGreaterThanOrEqual(3);
    expect(final).toBeLessThan(100000);

    const verify = runRunner(
      ['ckpt', 'verify', join(runDir, 'checkpoints', `step-${String(final).padStart(8, '0')}`)],
      { cwd: dir },
    );
    expect(verify.code, verify.stderr).toBe(0);
    const rows = readFileSync(join(runDir, 'logs', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const lastRow = JSON.parse(rows[rows.length - 1] as string) as { step: number };
    expect(lastRow.step).toBe(final);

    const resumed = runRunner(
      [
        'timestepper',
        'train',
        '--resume',
        runDir,
        '--steps',
        String(final + 2),
        '--backend',
        'cpu',
        '--quiet',
      ],
      { cwd: dir },
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(checkpointSteps(runDir)).toContain(final + 2);
  });
});
