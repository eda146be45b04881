import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runner = join(root, 'apps', 'runner');

const modes = {
  'before (tsx, source)': [
    '--conditions=@x/source',
    '--import',
    'tsx',
    join(runner, 'src', 'bin.ts'),
  ],
  'after (built JS)': [join(runner, 'dist', 'bin.js')],
} as const;

const cases: { name: string; args: string[]; code: number }[] = [
  { name: 'runner --help', args: ['--help'], code: 0 },
  { name: 'runner ired train --help', args: ['ired', 'train', '--help'], code: 0 },
  { name: 'bad flag (ired train --stepz 3)', args: ['ired', 'train', '--stepz', '3'], code: 2 },
  { name: 'bad value (ired train --steps x)', args: ['ired', 'train', '--steps', 'x'], code: 2 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function time(args: readonly string[]): { seconds: number; code: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: runner, encoding: 'utf8' });
  return { seconds: (performance.now() - t0) / 1000, code: r.status ?? -1 };
}

/**
 * `pnpm bench cli [--runs n] [--before-runs n]`: start-up time of the runner from source (tsx)
 * and built (medians; node's own start-up alone as the peer in the same run).
 */
export async function main(args: string[]): Promise<void> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const runs = flag('--runs', 7);
  const beforeRuns = flag('--before-runs', 3);
  if (!existsSync(join(runner, 'dist', 'commands.json'))) {
    process.stderr.write('bench cli: no built runner; run `pnpm build` first\n');
    process.exit(2);
  }
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  process.stdout.write(
    `runner start-up, medians of ${beforeRuns} (before) and ${runs} (after) runs (node ${process.version})\n`,
  );
  process.stdout.write(`load average at start: ${load()}\n`);
  process.stdout.write(
    `${'case'.padEnd(36)} ${'before'.padStart(9)} ${'after'.padStart(9)} ratio\n`,
  );
  const nodeAlone: number[] = [];
  for (let k = 0; k < runs; k++) nodeAlone.push(time(['-e', '0']).seconds);
  process.stdout.write(
    `${'node -e 0 (start-up of node alone)'.padEnd(36)} ${''.padStart(9)} ${`${median(nodeAlone).toFixed(2)} s`.padStart(9)}\n`,
  );
  for (const c of cases) {
    const medians: number[] = [];
    for (const [mode, prefix] of Object.entries(modes)) {
      const xs: number[] = [];
      time([...prefix, ...c.args]); // warm the file cache
      const n = mode.startsWith('before') ? beforeRuns : runs;
      for (let k = 0; k < n; k++) {
        const r = time([...prefix, ...c.args]);
        if (r.code !== c.code)
          throw new Error(`${c.name}: exit ${r.code}, expected ${c.code} (${prefix.join(' ')})`);
        xs.push(r.seconds);
      }
      medians.push(median(xs));
    }
    const [before, after] = medians as [number, number];
    process.stdout.write(
      `${c.name.padEnd(36)} ${`${before.toFixed(2)} s`.padStart(9)} ${`${after.toFixed(2)} s`.padStart(9)} ${(before / after).toFixed(1)}x\n`,
    );
  }
  process.stdout.write(`load average at end: ${load()}\n`);
  await Promise.resolve();
}
