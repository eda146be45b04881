import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonHas, runPython } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { timestepperCommands } from './commands/timestepper.js';
import { timestepperQuickstartStep } from './commands/timestepperQuickstart.js';
import { runInProcess, runRunnerAsync, tinyTimestepperArgs } from './testkit.js';

const runAsync = (args: string[]) => runRunnerAsync(args, { cwd: dir });
const inProcess = (args: string[]) => runInProcess(timestepperCommands, args, dir);

const dir = mkdtempSync(join(tmpdir(), 'x-timestepper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = [...tinyTimestepperArgs, '--backend', 'cpu', '--quiet'];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
}

describe('runner timestepper', () => {
  it('train resumes exactly: 2 steps + --resume to 4 equals 4 steps straight (state digest)', async () => {
    const [straight, half] = await Promise.all([
      runAsync([
        'timestepper',
        'train',
        '--problem',
        'figure8',
        '--out',
        join(dir, 'a'),
        '--steps',
        '4',
        '--save-every',
        '2',
        ...tiny,
      ]),
      runAsync([
        'timestepper',
        'train',
        '--problem',
        'figure8',
        '--out',
        join(dir, 'b'),
        '--steps',
        '2',
        '--save-every',
        '2',
        ...tiny,
      ]),
    ]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(half.code, half.stderr).toBe(0);
    const resumed = await runAsync([
      'timestepper',
      'train',
      '--resume',
      join(dir, 'b'),
      '--steps',
      '4',
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout)['digest']).toBe(lastJson(straight.stdout)['digest']);
    expect(lastJson(resumed.stdout)['step']).toBe(4);
    for (const f of [
      'config.yaml',
      'logs/metrics.jsonl',
      'logs/episodes.jsonl',
      'checkpoints/step-00000004/manifest.json',
      'svg/timestepper/orbit-figure8.svg',
    ]) {
      expect(existsSync(join(dir, 'a', f)), f).toBe(true);
    }
    expect(
      readFileSync(join(dir, 'b', 'logs/metrics.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(4);
  });

  it('bench writes the contract JSON (learned included) and an SVG beside it', async () => {
    const out = join(dir, 'bench', 'f8.json');
    const r = await inProcess([
      'timestepper',
      'bench',
      '--problem',
      'figure8',
      '--checkpoint',
      join(dir, 'a'),
      '--out',
      out,
      '--tend',
      '2',
      '--points',
      '2',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as {
      problem: string;
      tEnd: number;
      methods: { name: string; points: Record<string, number>[] }[];
    };
    expect(doc.problem).toBe('figure8');
    expect(doc.tEnd).toBe(2);
    expect(doc.methods.map((m) => m.name)).toEqual([
      'fixed',
      'adaptive',
      'symmetric',
      'aarseth',
      'learned',
    ]);
    for (const m of doc.methods) {
      for (const p of m.points) {
        for (const k of [
          'param',
          'forceEvals',
          'maxRelEnergyError',
          'finalRelEnergyError',
          'wallSeconds',
        ])
          expect(typeof p[k], `${m.name}.${k}`).toBe('number');
      }
    }
    // The learned rule is swept over the symmetric rule's η values (as dt multipliers η / η0).
    const params = (n: string) =>
      doc.methods.find((m) => m.name === n)!.points.map((p) => p['param']);
    expect(params('learned')).toEqual(
      params('symmetric').map((eta) => Number((eta! / 0.02).toPrecision(4))),
    );
    expect(readFileSync(join(dir, 'bench', 'f8.svg'), 'utf8')).toContain('<svg');
  });

  it('simulate writes a trajectory .npz that numpy opens', async () => {
    const out = join(dir, 'traj', 'k.npz');
    const r = await inProcess([
      'timestepper',
      'simulate',
      '--problem',
      'kepler',
      '--method',
      'learned',
      '--checkpoint',
      join(dir, 'a'),
      '--tend',
      '0.5',
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    if (!pythonHas('numpy')) {
      console.warn('skipping the numpy check: /usr/bin/python3 with numpy is not available');
      return;
    }
    const py = runPython(
      `import numpy as np; d = np.load(${JSON.stringify(out)}); print(d['states'].shape[1:], d['time_steps'].shape == d['energies'].shape)`,
    );
    expect(py.trim()).toBe('(2, 2, 3) True');
  });

  it('rejects a bad problem with exit code 2 naming the choices', async () => {
    const r = await inProcess([
      'timestepper',
      'train',
      '--problem',
      'sun',
      '--out',
      join(dir, 'c'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kepler, figure8, pythagorean, plummer');
  });

  it('the quickstart step: its learned rule meets max |ΔE/E0| ≤ 1e-4 within its sweep', async () => {
    const lines: string[] = [];
    const r = await timestepperQuickstartStep.run({
      outRoot: join(dir, 'qs'),
      backend: 'cpu',
      quiet: true,
      out: { line: (t) => lines.push(t), info: () => {}, warn: (t) => lines.push(t) },
      signal: new AbortController().signal,
    });
    const learned = r.findings.find((l) => / learned /.test(l));
    expect(learned, r.findings.join('\n')).toMatch(/learned +\d+ +[\d.e-]+ +\d\.\d+e-\d+/);
    expect(r.findings.join('\n')).toMatch(/5 of 5 methods reach/);
  }, 300_000);
});
