// pnpm bench queue [--n 16] [--chunk 4] [--backend wasm]
// Operators/s through the Redis/BullMQ queue with 1 and 2 workers against `operators generate
// --workers k` on the same machine in the same run, and the queue's overhead per job: queue wall
// time minus the same shard processes and merge run back to back without a queue, per job.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { redisMissing, startRedis } from '../apps/runner/src/queue/testing.js';
// Grid 16, T=16, M=3, base channels 4–8: the throughput config of `pnpm bench operators`.
import { benchRaw as config } from './operators.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'bench', 'out', 'queue');
const bin = join(root, 'apps/runner/src/bin.ts');
const loader = ['--conditions=@x/source', '--import', 'tsx'];

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
}

function runner(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [...loader, bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 3_600_000,
  });
  if (r.status !== 0) throw new Error(`runner ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return (performance.now() - t) / 1000;
}

/** A worker's job log: when each job started and ended here, and its job process's own time. */
interface JobTimes {
  starts: number[];
  dones: number[];
  processSeconds: number[];
}

function runnerAsync(args: string[], times: JobTimes): Promise<void> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [...loader, bin, ...args], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (d: Buffer) => {
      const now = performance.now();
      const text = d.toString();
      err += text;
      for (const line of text.split('\n')) {
        if (/: start /.test(line)) times.starts.push(now);
        const m = /: done .*\(job process ([\d.]+) s\)/.exec(line);
        if (m !== null) {
          times.dones.push(now);
          times.processSeconds.push(Number(m[1]));
        }
      }
    });
    c.on('close', (code) =>
      code === 0 ? done() : fail(new Error(`runner ${args.join(' ')}: exit ${code}\n${err}`)),
    );
  });
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

export async function main(args: string[]): Promise<void> {
  const missing = redisMissing();
  if (missing !== undefined) {
    process.stderr.write(`bench queue: ${missing}\n`);
    process.exitCode = 2;
    return;
  }
  const n = Number(flag(args, 'n', '16'));
  const chunk = Number(flag(args, 'chunk', '4'));
  const backend = flag(args, 'backend', 'wasm');
  const jobs = Math.ceil(n / chunk);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const cfg = join(outDir, 'ops.json');
  writeFileSync(cfg, JSON.stringify(config));
  const common = ['--config', cfg, '--backend', backend, '--pictures', '0', '--quiet'];
  process.stdout.write(
    `machine: ${cpus().length}× ${cpus()[0]?.model ?? '?'}, Node ${process.versions.node}; load average at start ${load()}\n`,
  );
  process.stdout.write(
    `config: grid 16, T=16, M=3, base channels 4–8, ${n} operators, backend ${backend}; queue: ${jobs} shard jobs of ${chunk} + a merge job\n\n`,
  );
  const rows: [string, number][] = [];
  const row = (name: string, seconds: number): void => {
    rows.push([name, seconds]);
    process.stdout.write(
      `${name.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s  ${(n / seconds).toFixed(3).padStart(7)} ops/s   (load ${load()})\n`,
    );
  };

  for (const k of [1, 2]) {
    const out = join(outDir, `workers-${k}.h5`);
    row(
      `operators generate --workers ${k}`,
      runner([
        'operators',
        'generate',
        '--n',
        String(n),
        '--out',
        out,
        '--workers',
        String(k),
        ...common,
      ]),
    );
  }

  // The same shard processes and merge as the queue runs, back to back, without a queue.
  const direct = join(outDir, 'direct');
  mkdirSync(direct, { recursive: true });
  let seq = 0;
  const parts: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const p = join(direct, `part-${i}.h5`);
    parts.push(p);
    seq += runner([
      'operators',
      'generate',
      '--n',
      String(n),
      '--shard',
      `${i}/${jobs}`,
      '--out',
      p,
      ...common,
    ]);
  }
  seq += runner(['operators', 'merge', join(direct, 'merged.h5'), ...parts, '--quiet']);
  row(`same ${jobs} shard processes + merge, sequential`, seq);

  const redis = await startRedis();
  try {
    const queueSeconds: number[] = [];
    let perJob = Number.NaN;
    for (const k of [1, 2]) {
      const times: JobTimes = { starts: [], dones: [], processSeconds: [] };
      const dir = join(outDir, `queue-${k}`);
      const queueName = `bench-${k}`;
      const redisArgs = ['--redis', redis.url, '--queue', queueName];
      const t = performance.now();
      runner([
        'queue',
        'operators',
        'generate',
        '--n',
        String(n),
        '--chunk',
        String(chunk),
        '--dir',
        dir,
        ...redisArgs,
        '--config',
        cfg,
        '--backend',
        backend,
      ]);
      await Promise.all(
        Array.from({ length: k }, () =>
          runnerAsync(['worker', ...redisArgs, '--exit-when-idle'], times),
        ),
      );
      const s = (performance.now() - t) / 1000;
      queueSeconds.push(s);
      row(`queue: enqueue + ${k} worker${k > 1 ? 's' : ''} (incl. merge job)`, s);
      if (k === 1) {
        // One worker runs the jobs back to back: its span minus its job processes' own time is
        // what the queue adds per job (fetch, lock, progress, rename, completion, next fetch).
        const span = (Math.max(...times.dones) - Math.min(...times.starts)) / 1000;
        const own = times.processSeconds.reduce((a, b) => a + b, 0);
        perJob = ((span - own) / times.dones.length) * 1000;
        process.stdout.write(
          `  1 worker: ${times.dones.length} jobs in ${span.toFixed(1)} s, their job processes ${own.toFixed(1)} s\n`,
        );
      }
    }
    process.stdout.write(
      `\nqueue overhead per job inside a worker (span − job processes, per job): ${perJob.toFixed(0)} ms\n`,
    );
    const overhead = (((queueSeconds[0] as number) - seq) / (jobs + 1)) * 1000;
    process.stdout.write(
      `end to end, per job (1 worker − sequential, ${jobs + 1} jobs; adds the enqueue and worker process starts): ${overhead.toFixed(0)} ms\n`,
    );
    const base = rows[0]?.[1] as number;
    process.stdout.write(
      `ratios to 'operators generate --workers 1': ${rows.map(([name, s]) => `${name.split(' (')[0]}: ${(base / s).toFixed(2)}×`).join('; ')}\n`,
    );
    process.stdout.write(`load average at end ${load()}\n`);
  } finally {
    await redis.stop();
  }
}
