import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runTs } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ired-ttc-'));
const python = process.env['X_BENCH_PYTHON'] ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Cell {
  optSteps: number;
  noise: number;
  restarts: number;
  select: 'energy' | 'vote';
  boards: number;
  blankCells: number;
  blankCorrect: number;
  blankCellAccuracy: number;
  blankCellCi95: [number, number];
  boardsSolved: number;
  boardAccuracy: number;
  boardCi95: [number, number];
  deltaBlankVsDeterministic: { value: number; ci95: [number, number] } | null;
  boardsGained: number | null;
  boardsLost: number | null;
  meanDistinctAnswers: number;
  oracleBoardsSolved: number;
}

describe('pnpm bench ired_ttc (tiny model, real process)', () => {
  it('trains and caches a tiny model, prints the table and writes the report JSON', () => {
    const json = join(dir, 'ttc.json');
    const cache = join(dir, 'cache');
    const r = runTs(
      join(repoRoot, 'bench', 'run.ts'),
      [
        'ired_ttc',
        '--tiny',
        '--boards',
        '3',
        '--restarts',
        '4',
        '--opt-steps',
        '0,1',
        '--only',
        'steps=1',
        '--batch-rows',
        '5',
        '--cache',
        cache,
        '--json',
        json,
      ],
      { timeoutMs: 110_000 },
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| opt steps \| noise \| restarts \| select \|/);
    expect(r.stdout).toMatch(/~\d+ s left/);
    expect(readdirSync(cache)).toHaveLength(1);
    const key = readdirSync(cache)[0] as string;
    expect(existsSync(join(cache, key, 'ema.f32'))).toBe(true);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      bench: string;
      version: number;
      model: { source: string; trainSeed: number; trainSteps: number; channels: number };
      heldout: { seed: number; boards: number; minGivens: number; maxGivens: number };
      sampleSeed: number;
      maxRestarts: number;
      restartPrefixes: number[];
      optSteps: number[];
      noise: number[];
      load: { start: number; end: number };
      arms: {
        optSteps: number;
        noise: number;
        rows: number;
        wallSeconds: number;
        cpuSeconds: number;
      }[];
      cells: Cell[];
    };
    expect(report).toMatchObject({
      bench: 'ired_ttc',
      version: 1,
      model: { source: 'trained', trainSeed: 0, trainSteps: 2, channels: 4 },
      heldout: { seed: 12345, boards: 3, minGivens: 31, maxGivens: 42 },
      sampleSeed: 7,
      maxRestarts: 4,
      restartPrefixes: [1, 4],
      optSteps: [1],
      noise: [0, 1],
    });
    expect(report.arms.map((a) => [a.optSteps, a.noise, a.rows])).toEqual([
      [1, 0, 12],
      [1, 1, 12],
    ]);
    for (const a of report.arms) expect(a.cpuSeconds).toBeGreaterThan(0);
    expect(report.cells.map((c) => [c.optSteps, c.noise, c.restarts, c.select])).toEqual([
      [1, 0, 1, 'energy'],
      [1, 0, 4, 'energy'],
      [1, 0, 4, 'vote'],
      [1, 1, 1, 'energy'],
      [1, 1, 4, 'energy'],
      [1, 1, 4, 'vote'],
    ]);
    for (const c of report.cells) {
      expect(c.boards).toBe(3);
      expect(c.blankCellAccuracy).toBeCloseTo(c.blankCorrect / c.blankCells, 12);
      expect(c.blankCellCi95[0]).toBeLessThanOrEqual(c.blankCellAccuracy);
      expect(c.blankCellCi95[1]).toBeGreaterThanOrEqual(c.blankCellAccuracy);
      expect(c.boardAccuracy).toBe(c.boardsSolved / 3);
      expect(c.boardCi95[0]).toBeLessThanOrEqual(c.boardAccuracy);
      expect(c.oracleBoardsSolved).toBeGreaterThanOrEqual(c.boardsSolved);
      expect(c.meanDistinctAnswers).toBeGreaterThanOrEqual(1);
      expect(c.meanDistinctAnswers).toBeLessThanOrEqual(c.restarts);
      expect(c.deltaBlankVsDeterministic).not.toBeNull();
    }
    // The reference row (one deterministic trajectory) differs from itself by nothing.
    const ref = report.cells[0] as Cell;
    expect(ref.deltaBlankVsDeterministic).toEqual({ value: 0, ci95: [0, 0] });
    expect([ref.boardsGained, ref.boardsLost, ref.meanDistinctAnswers]).toEqual([0, 0, 1]);
  });

  // The PyTorch peer is not installed in CI (Debian's python3-torch); this runs where it is.
  it.skipIf(!hasTorch)(
    'imports weights the PyTorch peer trained after checking both compute the same energies',
    () => {
      const json = join(dir, 'ttc-torch.json');
      const cache = join(dir, 'cache-torch');
      const args = ['ired_ttc', '--tiny', '--torch-minutes', '0.05', '--pool', '64'];
      const rest = ['--boards', '2', '--restarts', '2', '--noise', '0', '--cache', cache];
      const r = runTs(join(repoRoot, 'bench', 'run.ts'), [...args, ...rest, '--json', json], {
        timeoutMs: 110_000,
      });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/torch: step \d+, \d+ s, held-out blank-cell/);
      expect(r.stdout).toMatch(
        /energies of ours and the trained PyTorch model agree to \S+ \(relative\)/,
      );
      const report = JSON.parse(readFileSync(json, 'utf8')) as {
        model: { source: string; trainer?: string; trainSteps: number; channels: number };
      };
      expect(report.model.trainer).toMatch(/^pytorch /);
      expect(report.model.trainSteps).toBeGreaterThan(0);
      expect(report.model.channels).toBe(4);
      // A second run reuses the imported weights instead of training again.
      const again = runTs(join(repoRoot, 'bench', 'run.ts'), [...args, ...rest, '--json', json], {
        timeoutMs: 110_000,
      });
      expect(again.code).toBe(0);
      expect(again.stdout).not.toMatch(/training the model/);
      expect(again.stdout).toMatch(/energies of ours and the trained PyTorch model agree/);
      // Weights that do not compute what the trained model computed are refused.
      const run = readdirSync(cache).find((d) => d.startsWith('torch-')) as string;
      const step = readdirSync(join(cache, run)).find((d) => d.startsWith('step-')) as string;
      const metaPath = join(cache, run, step, 'meta.json');
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { check: { energy: number[] } };
      meta.check.energy[1] = (meta.check.energy[1] as number) * 1.01;
      writeFileSync(metaPath, JSON.stringify(meta));
      const bad = runTs(join(repoRoot, 'bench', 'run.ts'), [...args, ...rest, '--json', json], {
        timeoutMs: 110_000,
      });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(
        /PyTorch and @x\/ired energies differ for the weights in \S+step-/,
      );
    },
  );

  it('rejects a bad flag with a message naming it', () => {
    const r = runTs(join(repoRoot, 'bench', 'run.ts'), ['ired_ttc', '--tiny', '--only', 'steps'], {
      timeoutMs: 60_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--only: expected steps=<list> or noise=<list>/);
  });
});
