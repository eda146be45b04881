// Fault injection with real processes: kill -9 during training (resumed each time), disk full,
// a read-only directory, and a corpus of malformed inputs. The long kill campaign is
// `pnpm bench faults` (>= 50 rounds); this keeps a few rounds so `pnpm test` stays fast.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeFor, isXError } from '@x/core';
import { readNpz } from '@x/logging';
import { generateDataset, h5ready, resolveDatasetConfig } from '@x/operator-replay';
import { initBackend } from '@x/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from './commands/index.js';
import {
  type BadInput,
  checkpointCorpus,
  configCorpus,
  csvCorpus,
  h5Corpus,
  npzCorpus,
} from './faults/corpus.js';
import {
  checkpointSteps,
  finished,
  killRounds,
  referenceRun,
  spawnRunnerEnv,
  tinyIred,
  type SinkRows,
} from './faults/killRounds.js';
import { runInProcess, tinyOpsConfig } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'x-faults-'));
const STEPS = 8;
let reference: SinkRows;
const refDir = join(dir, 'reference');
const mounts: string[] = [];

const isRoot = process.getuid?.() === 0;
function mountTmpfs(at: string, size: string): boolean {
  if (!isRoot) return false;
  mkdirSync(at, { recursive: true });
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]).status === 0;
  if (ok) mounts.push(at);
  return ok;
}

beforeAll(async () => {
  reference = await referenceRun(refDir, dir, STEPS);
}, 300_000);

afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runInProcess(commands, args, dir);

const STACK = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

describe('fault injection (real processes)', () => {
  it('kill -9 at random moments of `ired train --save-every 1`, resumed each time: every row once, equal to an uninterrupted run', async () => {
    const report = await killRounds({
      runDir: join(dir, 'killed'),
      cwd: dir,
      steps: STEPS,
      rounds: 2,
      seed: 7,
      reference,
    });
    process.stdout.write(
      `faults (test): ${report.killed} kill -9 rounds, ${report.durableRounds}/${report.rounds} with every committed step durable; rows lost ${report.lost}, duplicated ${report.duplicated}, different ${report.mismatched}\n`,
    );
    expect(report.problems).toEqual([]);
    expect(report.finalStep).toBe(STEPS);
    expect(report.lost + report.duplicated + report.mismatched).toBe(0);
    expect(reference.jsonl.map((r) => r.step)).toEqual(
      Array.from({ length: STEPS }, (_, i) => i + 1),
    );
  }, 400_000);

  it('disk full (a 1.5 MiB tmpfs): a named error, no stack trace, every committed checkpoint intact, nothing half-written', async (ctx) => {
    const full = join(dir, 'full');
    if (!mountTmpfs(full, '1536k')) ctx.skip('needs root to mount a small tmpfs');
    const runDir = join(full, 'run');
    const res = await finished(
      spawnRunnerEnv(
        ['ired', 'train', '--out', runDir, '--steps', '400', '--save-every', '1', ...tinyIred],
        {},
        dir,
      ),
    );
    expect(res.code, res.stderr).not.toBe(0);
    expect(res.stderr).toMatch(/disk space|ENOSPC|no space/i);
    expect(res.stderr).toContain(full);
    expect(res.stderr).not.toMatch(STACK);
    const steps = checkpointSteps(runDir);
    expect(steps.length).toBeGreaterThan(0);
    const verify = await cli(['ckpt', 'verify', runDir]);
    expect(verify.code, verify.stderr).toBe(0);
    const leftovers = readdirSync(join(runDir, 'checkpoints')).filter((n) => /tmp|trash/.test(n));
    expect(leftovers).toEqual([]);
  }, 300_000);

  it('a read-only directory: writing is refused naming it, reading works', async (ctx) => {
    const ro = join(dir, 'ro');
    if (!mountTmpfs(ro, '4m')) ctx.skip('needs root to mount a tmpfs read-only');
    const gen = await cli([
      'ired',
      'train',
      '--out',
      join(ro, 'run'),
      '--steps',
      '1',
      '--save-every',
      '1',
      ...tinyIred,
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(spawnSync('mount', ['-o', 'remount,ro', ro]).status).toBe(0);
    const verify = await cli(['ckpt', 'verify', join(ro, 'run')]);
    expect(verify.code, verify.stderr).toBe(0);
    const out = join(ro, 'x.h5');
    const w = await cli([
      'operators',
      'generate',
      '--n',
      '1',
      '--out',
      out,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(w.code, w.stderr).toBe(2);
    expect(w.stderr).toMatch(/read-only file system|permission denied/);
    expect(w.stderr).not.toMatch(/no such file/i);
    expect(w.stderr).toContain(ro);
    expect(existsSync(out)).toBe(false);
  }, 300_000);

  it('a corpus of malformed config, checkpoint, CSV, .npz and .h5 inputs: each refused (exit 2; 1 for a damaged checkpoint), named, no stack trace, nothing written', async () => {
    await initBackend('cpu');
    await h5ready();
    const goodH5 = join(dir, 'good.h5');
    await generateDataset({
      config: resolveDatasetConfig(tinyOpsConfig()),
      total: 2,
      out: goodH5,
    });
    const ck = join(refDir, 'checkpoints', `step-${String(STEPS).padStart(8, '0')}`);
    const outs = join(dir, 'config-outs');
    const corpus: BadInput[] = [
      ...configCorpus(dir, (i) => join(outs, `run-${i}`)),
      ...checkpointCorpus(dir, ck),
      ...csvCorpus(dir, ck),
      ...npzCorpus(dir),
      ...h5Corpus(dir, goodH5),
    ];
    const failures: string[] = [];
    for (const bad of corpus) {
      let code: number;
      let message: string;
      if (bad.args === undefined) {
        try {
          readNpz(bad.path);
          code = 0;
          message = 'accepted';
        } catch (err) {
          code = isXError(err) ? exitCodeFor(err.code) : 3;
          message = `${(err as Error).message}\n${isXError(err) ? '' : ((err as Error).stack ?? '')}`;
        }
      } else {
        const r = await cli(bad.args);
        code = r.code;
        message = r.stderr;
      }
      const what = `${bad.kind} ${bad.name}: exit ${code}: ${message.trim().slice(0, 300)}`;
      if (!bad.exits.includes(code)) failures.push(`wrong exit: ${what}`);
      else if (!message.includes(bad.path)) failures.push(`does not name ${bad.path}: ${what}`);
      else if (bad.says !== undefined && !bad.says.test(message))
        failures.push(`does not say ${String(bad.says)}: ${what}`);
      else if (STACK.test(message) || /HDF5-DIAG/.test(message))
        failures.push(`stack trace or library noise: ${what}`);
    }
    // Nothing half-written: no config error created a run directory with checkpoints or logs.
    const created = existsSync(outs)
      ? readdirSync(outs).filter((d) => existsSync(join(outs, d, 'checkpoints')))
      : [];
    process.stdout.write(
      `faults (test): ${corpus.length} bad inputs tried (${[
        'config',
        'checkpoint',
        'csv',
        'npz',
        'h5',
      ]
        .map((k) => `${corpus.filter((b) => b.kind === k).length} ${k}`)
        .join(', ')}), ${corpus.length - failures.length} refused as required\n`,
    );
    expect(failures).toEqual([]);
    expect(created).toEqual([]);
  }, 400_000);
});
