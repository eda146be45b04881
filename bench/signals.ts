import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateDataset,
  h5ready,
  resolveDatasetConfig,
} from '../packages/operator-replay/src/index.js';
import { initBackend } from '../packages/tensor/src/index.js';
import {
  signalLatency,
  tinyIredSets,
  tinyOpsConfig,
  tinyTimestepperArgs,
  type SignalResult,
} from '../apps/runner/src/testkit.js';

const tinyIred = [...tinyIredSets, '--backend', 'cpu'];

const opsConfig = tinyOpsConfig(3);

interface Case {
  what: string;
  args: (round: number) => string[];
  ready: RegExp;
  before?: (round: number) => void;
}

function stepMs(r: SignalResult): number | undefined {
  const all = [...r.stderr.matchAll(/([\d.]+) steps\/s/g)].map((m) => Number(m[1]));
  const last = all[all.length - 1];
  return last === undefined || last <= 0 ? undefined : 1000 / last;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * SIGTERM-to-exit latency of every long runner command, as real processes: each is started,
 * signalled once its progress shows it is in its main loop, and timed to its exit. Goal: within
 * one step + 1 s. `pnpm bench signals [rounds]` (default 3).
 */
export async function main(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'x-bench-signals-'));
  try {
    const yaml = join(dir, 'ops.yaml');
    writeFileSync(yaml, JSON.stringify(opsConfig));
    await initBackend('cpu');
    await h5ready();
    const config = resolveDatasetConfig(opsConfig);
    const dataset = join(dir, 'dataset.h5');
    await generateDataset({ config, total: 60, out: dataset });
    const shards = [0, 1].map((i) => join(dir, `shard-${i}.h5`));
    for (const [i, s] of shards.entries())
      await generateDataset({ config, total: 600, shard: { index: i, count: 2 }, out: s });
    const ckptRun = join(dir, 'ired-ckpt');
    const cases: Case[] = [
      {
        what: 'ired train',
        args: (k) => [
          'ired',
          'train',
          '--out',
          join(dir, `it-${k}`),
          '--steps',
          '100000',
          ...tinyIred,
        ],
        ready: /\[ired\] step \d+\/100000 .*steps\/s/,
      },
      {
        what: 'ired sample',
        args: (k) => [
          ...['ired', 'sample', '--checkpoint', ckptRun, '--generate', '60', '--batch-size', '1'],
          ...['--out', join(dir, `samples-${k}`), '--backend', 'cpu'],
        ],
        ready: /\[ired sample\] step \d+\/60 .*steps\/s/,
      },
      {
        what: 'ired eval',
        args: () => [
          ...['ired', 'eval', '--checkpoint', ckptRun, '--generate', '60', '--batch-size', '1'],
          ...['--backend', 'cpu'],
        ],
        ready: /\[ired sample\] step \d+\/60 .*steps\/s/,
      },
      {
        what: 'timestepper train',
        args: (k) => [
          ...['timestepper', 'train', '--problem', 'kepler', ...tinyTimestepperArgs],
          ...['--steps', '100000', '--backend', 'cpu', '--out', join(dir, `ts-${k}`)],
        ],
        ready: /\[timestepper\] step \d+\/100000 .*steps\/s/,
      },
      {
        what: 'timestepper bench',
        args: (k) => [
          ...['timestepper', 'bench', '--problem', 'kepler', '--points', '40', '--tend', '50'],
          ...['--out', join(dir, `bench-${k}.json`), '--backend', 'cpu'],
        ],
        ready: /\[timestepper bench kepler\] step \d+\/160 .*steps\/s/,
      },
      {
        what: 'operators generate',
        args: (k) => [
          ...['operators', 'generate', '--n', '4000', '--config', yaml, '--backend', 'cpu'],
          ...['--out', join(dir, `gen-${k}.h5`)],
        ],
        ready: /\[operators generate \(cpu\)\] step \d+\/4000 .*steps\/s/,
      },
      {
        what: 'operators replay',
        args: () => ['operators', 'replay', dataset, '--verify', '--backend', 'cpu'],
        ready: /\[operators replay\] step \d+\/60 .*steps\/s/,
      },
      {
        what: 'operators extract',
        before: (k) => copyFileSync(dataset, join(dir, `extract-${k}.h5`)),
        args: (k) => [
          ...['operators', 'extract', join(dir, `extract-${k}.h5`), '--family', 'temporal'],
          ...['--batch-size', '1', '--backend', 'cpu'],
        ],
        ready: /\[operators extract temporal\] step \d+\/60 .*steps\/s/,
      },
      {
        what: 'operators merge',
        args: (k) => ['operators', 'merge', join(dir, `merged-${k}.h5`), ...shards],
        ready: /merging 2 shards into/,
      },
    ];
    // A checkpoint for sample/eval: a short ired run.
    const first = await signalLatency(
      ['ired', 'train', '--out', ckptRun, '--steps', '100000', ...tinyIred],
      { cwd: dir, ready: /\[ired\] step \d+\/100000 .*steps\/s/ },
    );
    if (first.code !== 143) throw new Error(`setup run failed:\n${first.stderr}`);
    const rows: string[] = [];
    const w = [20, 7, 9, 12, 12, 14];
    const pad = (cells: string[]) => cells.map((c, i) => c.padStart(w[i] ?? 0)).join(' ');
    rows.push(pad(['command', 'rounds', 'step ms', 'median ms', 'max ms', 'exit codes']));
    for (const c of cases) {
      const lat: number[] = [];
      const steps: number[] = [];
      const codes = new Set<string>();
      for (let k = 0; k < rounds; k++) {
        c.before?.(k);
        const r = await signalLatency(c.args(k), {
          cwd: dir,
          ready: c.ready,
        });
        lat.push(r.latencyMs);
        const s = stepMs(r);
        if (s !== undefined) steps.push(s);
        codes.add(String(r.code));
        if (r.code !== 143)
          process.stderr.write(`${c.what}: exit ${r.code}\n${r.stderr.slice(-600)}\n`);
      }
      rows.push(
        pad([
          c.what,
          String(rounds),
          steps.length === 0 ? '?' : median(steps).toFixed(0),
          median(lat).toFixed(0),
          Math.max(...lat).toFixed(0),
          [...codes].join(','),
        ]),
      );
    }
    const [l1, l5] = loadavg();
    process.stdout.write(
      `SIGTERM-to-exit latency per long command (real processes; load average ${l1?.toFixed(2)}, ${l5?.toFixed(2)})\n${rows.join('\n')}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
