import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@x/core';
import { generatePuzzles, SATNET_GIVENS, writeRrnCsv } from '@x/ired';
import { pythonHas } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { iredCommands } from './commands/ired.js';
import { runInProcess, runRunner, tinyIredSets } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-ired-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inProcess = (args: string[]) => runInProcess(iredCommands, args, dir);

const tiny = [...tinyIredSets, '--backend', 'cpu', '--quiet'];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
}

function hasNumpy(): boolean {
  return pythonHas('numpy');
}

describe('runner ired', () => {
  it('train resumes exactly: 2 steps + --resume to 4 equals 4 steps straight (state digest)', async () => {
    const straight = await inProcess([
      'ired',
      'train',
      '--out',
      join(dir, 'a'),
      '--steps',
      '4',
      '--save-every',
      '2',
      ...tiny,
    ]);
    expect(straight.code, straight.stderr).toBe(0);
    const half = await inProcess([
      'ired',
      'train',
      '--out',
      join(dir, 'b'),
      '--steps',
      '2',
      '--save-every',
      '2',
      ...tiny,
    ]);
    expect(half.code, half.stderr).toBe(0);
    const resumed = runRunner(
      ['ired', 'train', '--resume', join(dir, 'b'), '--steps', '4', '--backend', 'cpu', '--quiet'],
      {},
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    const a = lastJson(straight.stdout);
    const b = lastJson(resumed.stdout);
    expect(b['step']).toBe(4);
    expect(b['digest']).toBe(a['digest']);
    expect(lastJson(half.stdout)['digest']).not.toBe(a['digest']);
    for (const f of [
      'config.yaml',
      'logs/metrics.jsonl',
      'checkpoints/step-00000002/state.safetensors',
      'checkpoints/step-00000004/manifest.json',
    ]) {
      expect(existsSync(join(dir, 'a', f)), f).toBe(true);
    }
    const rows = readFileSync(join(dir, 'b', 'logs', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows.map((r) => r['step'])).toEqual([1, 2, 3, 4]);
    expect(rows.every((r) => Number.isFinite(r['train/loss']))).toBe(true);
  });

  it('a batch that cannot fit in memory is refused before anything is written, naming the key', async () => {
    const out = join(dir, 'huge-batch');
    const r = await inProcess([
      'ired',
      'train',
      '--out',
      out,
      '--set',
      'train.batchSize=100000000',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/train\.batchSize: one batch of 100000000 boards needs at least \d/);
    expect(existsSync(out)).toBe(false);
    const paper = await inProcess([
      ...['ired', 'train', '--out', out, '--preset', 'paper'],
      ...['--set', 'train.batchSize=100000', '--set', 'train.microBatch=50000'],
    ]);
    expect(paper.code).toBe(2);
    expect(paper.stderr).toMatch(/train\.microBatch: one training step keeps at least .* lower it/);
    expect(existsSync(out)).toBe(false);
  });

  it("--resume reads the run's config.yaml only as a bounded regular file (a device is refused)", async () => {
    const run = join(dir, 'device-config');
    mkdirSync(run);
    symlinkSync('/dev/zero', join(run, 'config.yaml'));
    const r = await inProcess([
      'ired',
      'train',
      '--resume',
      run,
      '--steps',
      '1',
      '--backend',
      'cpu',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(run, 'config.yaml')}: a device, not a regular file`);
    expect(readdirSync(run)).toEqual(['config.yaml']);
  });

  it('sample writes predictions, SVGs and trajectory .npz files that numpy opens', async () => {
    const traj = join(dir, 'traj');
    const r = await inProcess([
      'ired',
      'sample',
      '--checkpoint',
      join(dir, 'a'),
      '--generate',
      '3',
      '--batch-size',
      '2',
      '--restarts',
      '2',
      '--trajectories',
      traj,
      '--out',
      join(dir, 'samples'),
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)['boards']).toBe(3);
    expect(readdirSync(traj).sort()).toEqual([
      'batch-0000_restart-0.npz',
      'batch-0000_restart-1.npz',
      'batch-0001_restart-0.npz',
      'batch-0001_restart-1.npz',
    ]);
    expect(
      readFileSync(join(dir, 'samples', 'predictions.csv'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(3);
    expect(readFileSync(join(dir, 'samples', 'svg', 'board-0000.svg'), 'utf8')).toContain('<svg');
    expect(readFileSync(join(dir, 'samples', 'svg', 'energy-per-step.svg'), 'utf8')).toContain(
      't=0',
    );
    if (!hasNumpy()) {
      console.warn('skipping the numpy check: /usr/bin/python3 has no numpy');
      return;
    }
    const py = `
import json, sys, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({k: list(z[k].shape) for k in z.files} | {"rej": z["step_rejected"].dtype.str, "t": z["time_steps"].tolist()[:4], "ids": str(z["meta_problem_ids"]), "steps": z["steps"].tolist()[:4], "fin": bool(np.isfinite(z["energies"]).all())}))`;
    const out = spawnSync('/usr/bin/python3', ['-c', py, join(traj, 'batch-0000_restart-1.npz')], {
      encoding: 'utf8',
    });
    expect(out.status, out.stderr).toBe(0);
    const info = JSON.parse(out.stdout) as Record<string, unknown>;
    const n = 3 * 2 * 2;
    expect(info['states']).toEqual([n, 2, 9, 9, 9]);
    expect(info['energies']).toEqual([n, 2]);
    expect(info['success_flags']).toEqual([n, 2]);
    expect(info['step_rejected']).toEqual([n, 2]);
    expect(info['landscape_indices']).toEqual([n]);
    expect(info['t']).toEqual([2, 2, 2, 2]);
    expect(info['steps']).toEqual([0, 0, 1, 1]);
    expect(info['ids']).toBe('0,1');
    expect(info['fin']).toBe(true);
  });

  it('eval prints the metrics as one JSON object on the last stdout line; bad CSV is exit 2 with file:line', async () => {
    const csv = join(dir, 'puzzles.csv');
    writeRrnCsv(csv, generatePuzzles(Rng.fromSeed(4), 2, SATNET_GIVENS));
    const lines = readFileSync(csv, 'utf8');
    const r = await inProcess([
      'ired',
      'eval',
      '--checkpoint',
      join(dir, 'a', 'checkpoints', 'step-00000004'),
      '--puzzles',
      csv,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const m = lastJson(r.stdout);
    for (const k of ['blankCellAccuracy', 'boardAccuracy', 'consistency', 'boards'])
      expect(typeof m[k]).toBe('number');
    expect(m['boards']).toBe(2);
    writeFileSync(join(dir, 'bad.csv'), `${lines.split('\n')[0]}\n123,456\n`);
    const bad = await inProcess([
      'ired',
      'eval',
      '--checkpoint',
      join(dir, 'a'),
      '--puzzles',
      join(dir, 'bad.csv'),
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.csv:2: quiz has 3 characters, expected 81/);
  });

  it('keeps the package refinement (minGivens ≤ maxGivens): exit 2 naming the key, nothing written', async () => {
    const out = join(dir, 'bad-givens');
    const r = await inProcess([
      ...['ired', 'train', '--out', out, '--set', 'data.train.minGivens=50'],
      ...['--set', 'data.train.maxGivens=40', ...tiny],
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('data.train.minGivens: minGivens 50 exceeds maxGivens 40');
    expect(existsSync(out)).toBe(false);
  });

  it('checkpoint policy: keep last 2 and the best by loss; save every T seconds; provenance recorded', async () => {
    const out = join(dir, 'policy');
    const r = await inProcess([
      ...['ired', 'train', '--out', out, '--steps', '6', '--save-every', '1'],
      ...['--keep-last', '2', '--keep-best', 'loss:min', ...tiny],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(join(out, 'logs', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; 'train/loss': number });
    const best = rows.reduce((a, b) => (b['train/loss'] < a['train/loss'] ? b : a)).step;
    const kept = readdirSync(join(out, 'checkpoints'))
      .filter((d) => d.startsWith('step-'))
      .map((d) => Number(d.slice(5)));
    expect(new Set(kept)).toEqual(new Set([5, 6, best]));

    const timed = join(dir, 'timed');
    const t = await inProcess([
      ...['ired', 'train', '--out', timed, '--steps', '3', '--save-every', '1000'],
      ...['--save-every-seconds', '0.001', ...tiny],
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(readdirSync(join(timed, 'checkpoints')).filter((d) => d.startsWith('step-'))).toEqual([
      'step-00000001',
      'step-00000002',
      'step-00000003',
    ]);
    const config = readFileSync(join(timed, 'config.yaml'), 'utf8');
    expect(config).toMatch(/checkpoint:\n {2}everySeconds: 0\.001/);
    expect(config).toMatch(/provenance:\n {2}git:/);
    expect(config).toMatch(/ {2}host: \S+/);
    const manifest = JSON.parse(
      readFileSync(join(timed, 'checkpoints', 'step-00000003', 'manifest.json'), 'utf8'),
    ) as { metadata: { provenance: Record<string, unknown> } };
    expect(Object.keys(manifest.metadata.provenance)).toEqual(
      expect.arrayContaining(['git', 'command', 'host', 'startedAt', 'versions', 'backend']),
    );
    expect(manifest.metadata.provenance['backend']).toBe('cpu');
    const bad = await inProcess([
      'ired',
      'train',
      '--out',
      join(dir, 'x'),
      '--keep-best',
      'loss',
      ...tiny,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--keep-best: expected <metric>:<min|max>[:<k>]');
  });
});
