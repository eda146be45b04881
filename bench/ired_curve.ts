import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, XError, type TensorData } from '../packages/core/src/index.js';
import {
  cosineSchedule,
  cpuPreset,
  evaluateBoards,
  formatRrnCsv,
  generatePuzzles,
  initParams,
  IredTrainer,
  readRrnCsv,
  sampleBoards,
  SATNET_GIVENS,
  type Puzzle,
} from '../packages/ired/src/index.js';
import { initBackend } from '../packages/tensor/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0)
    throw new XError('INVALID_INPUT', `--${name}: expected a number >= 0, got '${args[i + 1]}'`);
  return v;
}

/** One point of a learning curve: EMA weights scored on the held-out puzzles. */
export interface CurvePoint {
  /** Wall seconds since the start of training. */
  wall: number;
  /** Process CPU seconds since the start of training (all threads). */
  cpu: number;
  step: number;
  blankCellAccuracy: number;
  boardAccuracy: number;
}

/** Linear interpolation of `y` at `x` over points sorted by x (the last value past the end). */
function at(points: readonly CurvePoint[], key: 'wall' | 'cpu', x: number): number {
  let prev = points[0] as CurvePoint;
  for (const p of points) {
    if (p[key] >= x) {
      if (p[key] === prev[key]) return p.blankCellAccuracy;
      const f = (x - prev[key]) / (p[key] - prev[key]);
      return prev.blankCellAccuracy + f * (p.blankCellAccuracy - prev.blankCellAccuracy);
    }
    prev = p;
  }
  return prev.blankCellAccuracy;
}

/** First time (interpolated) at which the curve reaches `acc`, or null if it never does. */
function timeTo(points: readonly CurvePoint[], key: 'wall' | 'cpu', acc: number): number | null {
  let prev: CurvePoint | undefined;
  for (const p of points) {
    if (p.blankCellAccuracy >= acc) {
      if (prev === undefined) return p[key];
      const f = (acc - prev.blankCellAccuracy) / (p.blankCellAccuracy - prev.blankCellAccuracy);
      return prev[key] + f * (p[key] - prev[key]);
    }
    prev = p;
  }
  return null;
}

/** Pool of training puzzles shared by both implementations, cached by seed and size. */
export function puzzlePool(
  seed: number,
  n: number,
  log: (s: string) => void,
  dir = join(here, 'out', 'cache', 'ired'),
): { file: string; puzzles: Puzzle[] } {
  const file = join(dir, `pool-seed${seed}-n${n}-31-42.csv`);
  if (existsSync(file)) return { file, puzzles: readRrnCsv(file) };
  log(`generating ${n} training puzzles (cached in ${file})`);
  const puzzles = generatePuzzles(Rng.fromSeed(seed).stream('pool'), n, SATNET_GIVENS);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, formatRrnCsv(puzzles));
  renameSync(`${file}.tmp`, file);
  return { file, puzzles };
}

export interface PeerResult {
  torch: string;
  threads: number;
  params: number;
  snapshots: CurvePoint[];
}

/**
 * Runs bench/ired_peer.py with a JSON spec and resolves with its last stdout line (JSON);
 * `onStderr` sees the peer's progress lines as they come.
 */
export function runPeer<T = PeerResult>(
  spec: object,
  onStderr?: (line: string) => void,
): Promise<T> {
  const python = process.env['X_BENCH_PYTHON'] ?? '/usr/bin/python3';
  return new Promise((ok, fail) => {
    const child = spawn(python, [join(here, 'ired_peer.py'), JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (onStderr === undefined) return;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onStderr(l);
    });
    child.on('error', fail);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{'))
        fail(new XError('INTERNAL', `PyTorch peer exited with ${code}: ${err.slice(-2000)}`));
      else ok(JSON.parse(last) as T);
    });
  });
}

/**
 * `pnpm bench ired_curve [--minutes 30] [--every 180] [--heldout 200] [--pool 20000] [--threads 1]
 * [--opt-steps 0] [--no-torch]`: the learning curve of the CPU default (EMA weights, blank-cell
 * accuracy on held-out generated puzzles with 31–42 givens) against wall and process-CPU seconds,
 * beside the PyTorch implementation of the same model and loss (`bench/ired_peer.py`, curve mode)
 * trained at the same time, on the same machine, on the same pool of puzzles, each with
 * `--threads` threads. Prints both curves and the effect of engine speed as numbers: accuracy of
 * each at equal seconds, and the seconds each needs to reach our final accuracy.
 */
export async function main(args: string[]): Promise<void> {
  const minutes = flag(args, 'minutes', 30);
  const every = flag(args, 'every', 180);
  const threads = flag(args, 'threads', 1);
  const optSteps = flag(args, 'opt-steps', 0);
  const seed = flag(args, 'seed', 0);
  const withTorch = !args.includes('--no-torch');
  const jsonPath = resolve(
    args.includes('--json')
      ? (args[args.indexOf('--json') + 1] as string)
      : join(here, 'out', 'ired_curve.json'),
  );
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const info = await initBackend({ backend: 'wasm', threads });
  const heldout = generatePuzzles(
    Rng.fromSeed(12345).stream('heldout'),
    flag(args, 'heldout', 200),
    SATNET_GIVENS,
  );
  const heldoutFile = join(here, 'out', 'ired_curve', 'heldout.csv');
  mkdirSync(dirname(heldoutFile), { recursive: true });
  writeFileSync(heldoutFile, formatRrnCsv(heldout));
  const pool = puzzlePool(seed, flag(args, 'pool', 20000), w);
  const loadStart = loadavg()[0] ?? 0;
  w(
    `ired learning curve: cpu preset, ours on ${info.name} (${info.threads ?? 1} threads)${withTorch ? `, PyTorch (${threads} threads) at the same time` : ''}; ${minutes} min; ${pool.puzzles.length} training puzzles, ${heldout.length} held-out; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const cfg = cpuPreset;
  const peer = withTorch
    ? runPeer({
        mode: 'curve',
        model: cfg.model,
        train: cfg.train,
        contrastiveWeight: cfg.diffusion.contrastiveWeight,
        negativeCorruption: cfg.diffusion.negativeCorruption,
        landscapes: cfg.diffusion.landscapes,
        trainCsv: pool.file,
        heldoutCsv: heldoutFile,
        seconds: minutes * 60,
        every,
        optSteps,
        threads,
        seed,
      })
    : undefined;
  const trainer = new IredTrainer({ config: cfg, seed, puzzles: pool.puzzles });
  const snaps: { step: number; wall: number; cpu: number; ema: Record<string, TensorData> }[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const cpuNow = () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  let next = 0;
  for (;;) {
    const wall = (performance.now() - t0) / 1000;
    if (wall >= next || wall >= minutes * 60) {
      snaps.push({ step: trainer.step, wall, cpu: cpuNow(), ema: await trainer.ema.getState() });
      next += every;
      w(`  ours: step ${trainer.step}, ${wall.toFixed(0)} s (load ${loadavg()[0]?.toFixed(1)})`);
    }
    if (wall >= minutes * 60) break;
    await trainer.trainStep();
  }
  trainer.dispose();
  const schedule = cosineSchedule(cfg.diffusion.landscapes);
  const ours: CurvePoint[] = [];
  for (const s of snaps) {
    const params = initParams(cfg.model, Rng.fromSeed(0));
    params.setState(s.ema);
    const preds: Uint8Array[] = [];
    for (let i = 0; i < heldout.length; i += 50) {
      const b = heldout.slice(i, i + 50);
      const r = await sampleBoards(
        params.record(),
        b.map((p) => p.quiz),
        {
          model: cfg.model,
          schedule,
          optSteps,
          rng: Rng.fromSeed(7),
          ids: b.map((_, k) => i + k),
        },
      );
      preds.push(...r.predictions);
    }
    params.dispose();
    const m = evaluateBoards(
      heldout.map((p) => p.quiz),
      heldout.map((p) => p.solution),
      preds,
    ).metrics;
    ours.push({
      wall: s.wall,
      cpu: s.cpu,
      step: s.step,
      blankCellAccuracy: m.blankCellAccuracy,
      boardAccuracy: m.boardAccuracy,
    });
  }
  const torch = peer === undefined ? undefined : await peer;
  const theirs = torch?.snapshots ?? [];
  const loadEnd = loadavg()[0] ?? 0;
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
  const sec = (x: number | undefined | null) =>
    x === undefined || x === null ? '—' : x.toFixed(0);
  w(
    `\nheld-out ${heldout.length} puzzles (31–42 givens, seed 12345), EMA weights, ${optSteps} optimisation steps per landscape:\n`,
  );
  w(
    '| wall s | ours: step | ours: cpu s | ours: blank-cell | torch: step | torch: cpu s | torch: blank-cell |',
  );
  w('| --- | --- | --- | --- | --- | --- | --- |');
  const rows = Math.max(ours.length, theirs.length);
  for (let i = 0; i < rows; i++) {
    const o = ours[i];
    const t = theirs[i];
    w(
      `| ${sec(o?.wall ?? t?.wall)} | ${o?.step ?? '—'} | ${sec(o?.cpu)} | ${pct(o?.blankCellAccuracy)} | ${t?.step ?? '—'} | ${sec(t?.cpu)} | ${pct(t?.blankCellAccuracy)} |`,
    );
  }
  const last = ours[ours.length - 1] as CurvePoint;
  const summary =
    theirs.length === 0
      ? undefined
      : {
          target: last.blankCellAccuracy,
          oursAtEnd: last.blankCellAccuracy,
          torchAtEqualWall: at(theirs, 'wall', last.wall),
          torchAtEqualCpu: at(theirs, 'cpu', last.cpu),
          oursWallToTarget: timeTo(ours, 'wall', last.blankCellAccuracy),
          oursCpuToTarget: timeTo(ours, 'cpu', last.blankCellAccuracy),
          torchWallToTarget: timeTo(theirs, 'wall', last.blankCellAccuracy),
          torchCpuToTarget: timeTo(theirs, 'cpu', last.blankCellAccuracy),
          oursSteps: last.step,
          torchSteps: (theirs[theirs.length - 1] as CurvePoint).step,
        };
  if (summary !== undefined) {
    const ratio = (a: number | null, b: number | null) =>
      a === null || b === null || b <= 0 ? '—' : `${(a / b).toFixed(1)}×`;
    w(
      `\nat equal time (${sec(last.wall)} s wall / ${sec(last.cpu)} s cpu): ours ${pct(summary.oursAtEnd)}, PyTorch ${pct(summary.torchAtEqualWall)} at equal wall, ${pct(summary.torchAtEqualCpu)} at equal CPU seconds`,
    );
    w(
      `to reach ours' final ${pct(summary.target)}: ours ${sec(summary.oursWallToTarget)} s wall / ${sec(summary.oursCpuToTarget)} s cpu, PyTorch ${sec(summary.torchWallToTarget)} s wall / ${sec(summary.torchCpuToTarget)} s cpu → engine speed costs ${ratio(summary.oursWallToTarget, summary.torchWallToTarget)} wall, ${ratio(summary.oursCpuToTarget, summary.torchCpuToTarget)} CPU`,
    );
    w(`steps in ${minutes} min: ours ${summary.oursSteps}, PyTorch ${summary.torchSteps}`);
  }
  w(`load ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}; seed ${seed}`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        bench: 'ired_curve',
        version: 2,
        minutes,
        every,
        threads,
        optSteps,
        seed,
        backend: info.name,
        trainPuzzles: pool.puzzles.length,
        heldout: heldout.length,
        load: { start: loadStart, end: loadEnd },
        ours,
        torch:
          torch === undefined
            ? null
            : { version: torch.torch, threads: torch.threads, params: torch.params, curve: theirs },
        summary: summary ?? null,
      },
      null,
      1,
    )}\n`,
  );
  w(`wrote ${jsonPath}`);
}
