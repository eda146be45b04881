import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDataset, h5ready, resolveDatasetConfig } from '@x/operator-replay';
import { initBackend } from '@x/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  runRunner,
  runRunnerAsync,
  signalLatency,
  tinyIredSets,
  tinyOpsConfig,
  tinyTimestepperArgs,
  type RunResult,
  type SignalResult,
} from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Within one step plus this margin (process teardown, a loaded 2-core machine). */
const MARGIN_MS = 15_000;

const tinyIredArgs = [...tinyIredSets, '--backend', 'cpu'];

const opsConfig = tinyOpsConfig(3);
const opsYaml = join(dir, 'ops.yaml');
const dataset = join(dir, 'dataset.h5');

function checkpointSteps(runDir: string): number[] {
  const ck = join(runDir, 'checkpoints');
  if (!existsSync(ck)) return [];
  return readdirSync(ck)
    .filter((d) => /^step-\d{8}$/.test(d))
    .map((d) => Number(d.slice(5)))
    .sort((a, b) => a - b);
}

function stepsPerSecond(stderr: string): number {
  const all = [...stderr.matchAll(/([\d.]+) steps\/s/g)].map((m) => Number(m[1]));
  return all.length === 0 ? 1 : (all[all.length - 1] as number);
}

function expectWithinOneStep(r: SignalResult, what: string): void {
  expect(r.code, `${what}\n${r.stderr}`).toBe(143);
  expect(r.stderr).toContain('SIGTERM received');
  const stepMs = 1000 / stepsPerSecond(r.stderr);
  expect(
    r.latencyMs,
    `${what}: ${r.latencyMs.toFixed(0)} ms, one step ${stepMs.toFixed(0)} ms`,
  ).toBeLessThan(stepMs + MARGIN_MS);
}

beforeAll(async () => {
  writeFileSync(opsYaml, JSON.stringify(opsConfig));
  await initBackend('cpu');
  await h5ready();
  await generateDataset({ config: resolveDatasetConfig(opsConfig), total: 40, out: dataset });
}, 120_000);

describe('signals and run-directory locks (real processes)', () => {
  it('ired train: SIGTERM within one step with no checkpoint due, final checkpoint, a second writer refused', async () => {
    const runDir = join(dir, 'ired');
    let others: RunResult[] = [];
    const r = await signalLatency(
      [
        ...['ired', 'train', '--out', runDir, '--steps', '100000', '--save-every', '100000'],
        ...tinyIredArgs,
      ],
      {
        cwd: dir,
        ready: /\[ired\] step \d+\/100000 .*steps\/s/,
        whileRunning: async () => {
          others = await Promise.all([
            runRunnerAsync(['ired', 'train', '--resume', runDir, '--backend', 'cpu', '--quiet'], {
              cwd: dir,
            }),
            runRunnerAsync(['ired', 'train', '--out', runDir, ...tinyIredArgs, '--quiet'], {
              cwd: dir,
            }),
          ]);
        },
      },
    );
    expectWithinOneStep(r, 'ired train');
    const steps = checkpointSteps(runDir);
    expect(steps.length, r.stderr).toBe(1);
    expect(steps[0]).toBeGreaterThan(0);
    expect(steps[0]).toBeLessThan(100000);
    expect(existsSync(join(runDir, '.lock'))).toBe(false);
    expect(others.length).toBe(2);
    for (const other of others) {
      expect(other.code, other.stderr).toBe(2);
      expect(other.stderr).toMatch(
        new RegExp(`${runDir}.* is in use by pid \\d+ on ${hostname()} since .*\\(ired train\\)`),
      );
      expect(other.stderr).not.toMatch(/\n\s+at /);
    }
  }, 300_000);

  it('a stale lock (dead pid on this host) is taken over', () => {
    const runDir = join(dir, 'ired');
    const final = checkpointSteps(runDir).pop() as number;
    writeFileSync(
      join(runDir, '.lock'),
      JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: 'x', command: 'gone' }),
    );
    const r = runRunner(
      [
        'ired',
        'train',
        '--resume',
        runDir,
        '--steps',
        String(final + 1),
        '--backend',
        'cpu',
        '--quiet',
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(checkpointSteps(runDir)).toContain(final + 1);
    expect(existsSync(join(runDir, '.lock'))).toBe(false);
  }, 300_000);

  it('timestepper train, ired sample, timestepper bench, operators generate and replay stop within one step', async () => {
    const ckpt = join(dir, 'ired');
    const cases: { what: string; args: string[]; ready: RegExp; after: () => void }[] = [
      {
        what: 'timestepper train',
        args: [
          ...['timestepper', 'train', '--problem', 'kepler', ...tinyTimestepperArgs],
          ...['--steps', '100000', '--save-every', '100000', '--backend', 'cpu'],
          ...['--out', join(dir, 'ts')],
        ],
        ready: /\[timestepper\] step \d+\/100000/,
        after: () => expect(checkpointSteps(join(dir, 'ts')).length).toBe(1),
      },
      {
        what: 'ired sample',
        args: [
          ...['ired', 'sample', '--checkpoint', ckpt, '--generate', '60', '--batch-size', '1'],
          ...['--out', join(dir, 'samples'), '--backend', 'cpu'],
        ],
        ready: /\[ired sample\] step \d+\/60/,
        after: () => expect(existsSync(join(dir, 'samples', 'predictions.csv'))).toBe(false),
      },
      {
        what: 'timestepper bench',
        args: [
          ...['timestepper', 'bench', '--problem', 'kepler', '--points', '40', '--tend', '50'],
          ...['--out', join(dir, 'bench.json'), '--backend', 'cpu'],
        ],
        ready: /\[timestepper bench kepler\] step \d+\/160/,
        after: () => expect(existsSync(join(dir, 'bench.json'))).toBe(false),
      },
      {
        what: 'operators generate',
        args: [
          ...['operators', 'generate', '--n', '2000', '--config', opsYaml, '--backend', 'cpu'],
          ...['--out', join(dir, 'gen.h5')],
        ],
        ready: /\[operators generate \(cpu\)\] step \d+\/2000/,
        after: () => expect(readdirSync(dir).filter((f) => f.includes('gen.h5'))).toEqual([]),
      },
      {
        what: 'operators replay',
        args: ['operators', 'replay', dataset, '--verify', '--backend', 'cpu'],
        ready: /\[operators replay\] step \d+\/40/,
        after: () => undefined,
      },
    ];
    const results = await Promise.all(
      cases.map((c) => signalLatency(c.args, { cwd: dir, ready: c.ready })),
    );
    cases.forEach((c, i) => {
      expectWithinOneStep(results[i] as SignalResult, c.what);
      c.after();
    });
    expect(readFileSync(dataset).length).toBeGreaterThan(0);
  }, 400_000);
});
