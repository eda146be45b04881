import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Rng } from '../packages/core/src/index.js';
import {
  ExperimentLogger,
  TrajectoryLogger,
  consoleSink,
  jsonlSink,
  svgSink,
  readJsonl,
  tensorboardSink,
  type SinkEntry,
} from '../packages/logging/src/index.js';

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function nullStream(): NodeJS.WriteStream {
  return new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
}

interface Dist {
  median: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

function dist(xs: Float64Array): Dist {
  const sorted = xs.slice().sort();
  let sum = 0;
  for (const t of xs) sum += t;
  return {
    median: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    p999: quantile(sorted, 0.999),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sum / Math.max(1, xs.length),
  };
}

const fmt = (d: Dist) =>
  `median ${d.median.toFixed(2)} µs, p99 ${d.p99.toFixed(2)} µs, p99.9 ${d.p999.toFixed(2)} µs, max ${d.max.toFixed(0)} µs, mean ${d.mean.toFixed(2)} µs`;

interface LogRun {
  /** Synchronous cost of the log() calls of each step (what the caller's step pays inline). */
  log: Dist;
  /** Time of each step's yield to the event loop (the deferred sink work runs there). */
  gap: Dist;
  /** Process CPU (all threads: encoding, thread-pool writes, fsync) per step, close included. */
  cpuPerStep: number;
  rows: number;
}

/**
 * One simulated training run: each step logs 8 train metrics (+4 eval metrics every 10 steps),
 * then yields to the event loop (`yieldEvery` 1: `await setImmediate()` after every step, as a
 * loop that awaits its data or device does; 0: never, until close). `sinks: false` is the
 * floor: the same loop and logger with no sinks. CPU is counted up to the end of `close()`, so
 * every deferred write is in it; the JSONL rows are read back and counted.
 */
async function logCost(
  steps: number,
  opts: { everyStep?: boolean; sinks?: boolean; yieldEvery?: number },
): Promise<LogRun> {
  const runDir = mkdtempSync(join(tmpdir(), 'bench-logging-'));
  const cad = (c: SinkEntry['every']) => (opts.everyStep === true ? {} : c);
  const yieldEvery = opts.yieldEvery ?? 1;
  const logger = new ExperimentLogger({
    run: {
      runDir,
      pipeline: 'bench',
      config: { lr: 1e-3 },
      startStep: 0,
      resumed: false,
      totalSteps: steps,
    },
    sinks:
      opts.sinks === false
        ? []
        : [
            {
              sink: consoleSink({ stream: nullStream(), live: false }),
              every: cad({ seconds: 1 }),
            },
            { sink: jsonlSink(), every: cad({ steps: 100, seconds: 5 }) },
            { sink: tensorboardSink(), every: cad({ steps: 100, seconds: 10 }) },
            { sink: svgSink({ charts: ['eval/*'] }), every: cad({ seconds: 30 }) },
          ],
  });
  const times = new Float64Array(steps);
  const gaps = new Float64Array(yieldEvery > 0 ? Math.floor(steps / yieldEvery) : 0);
  const metrics = {
    loss: 0,
    acc: 0,
    lr: 1e-3,
    grad_norm: 0,
    energy: 0,
    mse: 0,
    time_per_step: 0,
    tokens: 0,
  };
  const c0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    metrics.loss = 1 / (s + 1);
    metrics.acc = s / steps;
    metrics.grad_norm = Math.sqrt(s);
    const t0 = performance.now();
    logger.log(metrics, { step: s });
    if (s % 10 === 0)
      logger.log({ acc: 0.5, loss: 0.1, solved: 3, mse: 0.2 }, { step: s, category: 'eval' });
    times[s] = (performance.now() - t0) * 1000;
    if (yieldEvery > 0 && (s + 1) % yieldEvery === 0) {
      const g0 = performance.now();
      await new Promise((r) => setImmediate(r));
      gaps[(s + 1) / yieldEvery - 1] = (performance.now() - g0) * 1000;
    }
  }
  await logger.close();
  const c = process.cpuUsage(c0);
  const rows = opts.sinks === false ? steps : readJsonl(join(runDir, 'logs')).length;
  rmSync(runDir, { recursive: true, force: true });
  if (rows !== steps) throw new Error(`bench: metrics.jsonl holds ${rows} rows, not ${steps}`);
  return {
    log: dist(times),
    gap: dist(gaps),
    cpuPerStep: (c.user + c.system) / steps,
    rows,
  };
}

function sudokuTrajectory(steps: number, batch: number): Float32Array[] {
  const rng = Rng.fromSeed(7).stream('bench/trajectory');
  const onehot = new Float32Array(batch * 729);
  for (let b = 0; b < batch; b++) {
    for (let cell = 0; cell < 81; cell++) onehot[b * 729 + cell * 9 + rng.int(0, 9)] = 1;
  }
  const out: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const sigma = Math.max(0, 1 - s / (0.8 * steps));
    const x = new Float32Array(batch * 729);
    for (let i = 0; i < x.length; i++) {
      x[i] = sigma > 0 ? (onehot[i] as number) + sigma * rng.normal() : (onehot[i] as number);
    }
    out.push(x);
  }
  return out;
}

/**
 * `pnpm bench logging [--part log|npz] [--steps N] [--step-ms ired=1000,timestepper=130] [--reps 3]`: log() cost with every
 * local sink in a loop that yields after each step (the deferred work and the process CPU are
 * reported too; and its share of the given pipelines' step times), and trajectory save vs numpy.
 */
export async function main(args: string[]): Promise<void> {
  const stepsArg = args.indexOf('--steps');
  const steps = stepsArg >= 0 ? Number(args[stepsArg + 1]) : 20000;
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  process.stdout.write(`machine: ${cpus().length} x ${cpu}, node ${process.version}\n\n`);
  const partArg = args.indexOf('--part');
  const part = partArg >= 0 ? args[partArg + 1] : undefined;
  if (part !== 'npz') await logPart(args, steps);
  if (part !== 'log') await npzPart(args);
}

async function logPart(args: string[], steps: number): Promise<void> {
  process.stdout.write(
    `log() with console+jsonl+tensorboard+svg, 8 train metrics/step + 4 eval metrics every 10 steps, ${steps} steps; the loop awaits setImmediate() after each step (deferred sink work runs there); CPU = process CPU (all threads) up to the end of close(); load average (1/5/15 min) at the start ${load()}\n`,
  );
  await logCost(2000, {});
  await logCost(2000, { sinks: false });
  const floor = await logCost(steps, { sinks: false });
  const def = await logCost(steps, {});
  const every = await logCost(Math.min(steps, 5000), { everyStep: true });
  const tight = await logCost(steps, { yieldEvery: 0 });
  const line = (label: string, r: LogRun) =>
    process.stdout.write(
      `  ${label}: ${fmt(r.log)}\n    yield after the step: ${fmt(r.gap)}\n    CPU ${r.cpuPerStep.toFixed(2)} µs/step (${(r.cpuPerStep - floor.cpuPerStep).toFixed(2)} µs/step over no sinks), ${r.rows} rows in metrics.jsonl\n`,
    );
  line('no sinks (floor)', floor);
  line('default cadences', def);
  line('every sink every step', every);
  process.stdout.write(
    `  never yields until close (back-pressure hands batches over inline): ${fmt(tight.log)}; CPU ${tight.cpuPerStep.toFixed(2)} µs/step\n`,
  );
  process.stdout.write(
    `  default cadences vs no sinks: log() p99 ${(def.log.p99 / floor.log.p99).toFixed(2)}×, yield p99 ${(def.gap.p99 / floor.gap.p99).toFixed(2)}×\n`,
  );
  const stepArg = args.indexOf('--step-ms');
  const pipelines = (stepArg >= 0 ? (args[stepArg + 1] ?? '') : '')
    .split(',')
    .filter((p) => p.includes('='))
    .map((p) => p.split('=') as [string, string]);
  // The logger's whole cost per step: its CPU over the no-sink floor (log() plus deferred work).
  const defCost = Math.max(0, def.cpuPerStep - floor.cpuPerStep);
  const everyCost = Math.max(0, every.cpuPerStep - floor.cpuPerStep);
  for (const [name, ms] of pipelines) {
    process.stdout.write(
      `  share of a ${name} training step (${ms} ms): ${((100 * defCost) / (Number(ms) * 1000)).toFixed(4)} %\n`,
    );
  }
  for (const ms of [1, 10, 100, 1000]) {
    process.stdout.write(
      `  share of a ${ms} ms training step (CPU over no sinks): ${((100 * defCost) / (ms * 1000)).toFixed(4)} % (default), ${((100 * everyCost) / (ms * 1000)).toFixed(4)} % (every step)\n`,
    );
  }
  process.stdout.write(`  load average at the end ${load()}\n`);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** Trajectory `.npz` saves (each mode, median of `--reps`) next to numpy on the same arrays. */
async function npzPart(args: string[]): Promise<void> {
  const repsArg = args.indexOf('--reps');
  const reps = repsArg >= 0 ? Number(args[repsArg + 1]) : 3;
  const T = 1000;
  const B = 32;
  const data = sudokuTrajectory(T, B);
  const dir = mkdtempSync(join(tmpdir(), 'bench-traj-'));
  const mb = ((T * B * 729 * 4) / 1e6).toFixed(1);
  process.stdout.write(
    `\ntrajectory ${T} steps x batch ${B} x 729 float32 (${mb} MB), median of ${reps}; load average (1/5/15 min) at the start ${load()}\n`,
  );
  process.stdout.write('| mode | save (wall) | CPU (all threads) | size |\n|---|---|---|---|\n');
  const ours: Record<string, { wall: number; size: number }> = {};
  for (const [label, compression, streaming] of [
    ['fast (deflate 1, Huffman-only/RLE per segment), in memory', 'fast', false],
    ['fast, streaming to disk', 'fast', true],
    ['small (deflate 6), in memory', 'small', false],
    ['none (stored), in memory', 'none', false],
  ] as const) {
    const walls: number[] = [];
    const cpus: number[] = [];
    let size = 0;
    for (let rep = 0; rep < reps; rep++) {
      const traj = new TrajectoryLogger({
        compression,
        streaming,
        transform: (s) => ({ data: s.data, shape: [B, 9, 9, 9] }),
      });
      const id = traj.init('bench', { difficulty: 'hard' });
      for (let s = 0; s < T; s++)
        traj.append(id, {
          state: data[s],
          energy: data[s]!.subarray(0, B),
          step: s,
          success: false,
          timeStep: s,
        });
      const path = join(dir, `traj-${compression}-${streaming}.npz`);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await traj.save(id, path);
      walls.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpus.push((c.user + c.system) / 1e6);
      traj.clearAll();
      size = statSync(path).size / 1e6;
    }
    const wall = median(walls);
    ours[`${compression}-${streaming}`] = { wall, size };
    process.stdout.write(
      `| ${label} | ${wall.toFixed(3)} s | ${median(cpus).toFixed(3)} s | ${size.toFixed(2)} MB |\n`,
    );
  }
  const fast = ours['fast-false'] as { wall: number; size: number };
  if (spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0) {
    const py = String.raw`
import sys, time, os, json, resource, numpy as np
z = np.load(sys.argv[1]); arrays = {k: z[k] for k in z.files}
r0 = resource.getrusage(resource.RUSAGE_SELF); t = time.perf_counter(); np.savez_compressed(sys.argv[2], **arrays); dt = time.perf_counter() - t; r1 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter(); np.savez(sys.argv[3], **arrays); du = time.perf_counter() - t
print(json.dumps({'wall': dt, 'cpu': (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 'size': os.path.getsize(sys.argv[2]) / 1e6, 'stored': du}))
`;
    const np = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          py,
          join(dir, 'traj-fast-false.npz'),
          join(dir, 'np.npz'),
          join(dir, 'np_stored.npz'),
        ],
        { encoding: 'utf8' },
      ),
    ) as { wall: number; cpu: number; size: number; stored: number };
    process.stdout.write(
      `| numpy savez_compressed (level 6), same arrays, same run | ${np.wall.toFixed(3)} s | ${np.cpu.toFixed(3)} s | ${np.size.toFixed(2)} MB |\n| numpy savez (stored) | ${np.stored.toFixed(3)} s | | |\n`,
    );
    process.stdout.write(
      `fast vs numpy savez_compressed: time ${(fast.wall / np.wall).toFixed(2)}×, size ${(fast.size / np.size).toFixed(4)}× (numpy opened our file to get the arrays)\n`,
    );
  } else {
    process.stdout.write('numpy comparison skipped: /usr/bin/python3 has no numpy\n');
  }
  process.stdout.write(`load average at the end ${load()}\n`);
  rmSync(dir, { recursive: true, force: true });
}
