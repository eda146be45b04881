import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, XError, type TensorData } from '../packages/core/src/index.js';
import {
  BOARD_SIZE,
  cosineSchedule,
  cpuPreset,
  encodeBatch,
  energy,
  formatRrnCsv,
  generatePuzzles,
  initParams,
  IredTrainer,
  lowestEnergyRestart,
  sampleBoards,
  voteAnswers,
  SATNET_GIVENS,
  scoreBoard,
  gridFromString,
  gridToString,
  type Grid,
  type IredConfig,
  type Puzzle,
} from '../packages/ired/src/index.js';
import { tinyConfig } from '../packages/ired/src/testing.js';
import { initBackend, tf, type VariableSet } from '../packages/tensor/src/index.js';
import { puzzlePool, runPeer } from './ired_curve.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Trained weights are cached here (git-ignored: `bench/out/`). */
export const CACHE_ROOT = join(here, 'out', 'cache', 'ired');

/** What the cache remembers about a training run. */
export interface TrainedMeta {
  key: string;
  seed: number;
  steps: number;
  config: IredConfig;
  wallSeconds: number;
  cpuSeconds: number;
  loadAtStart: number;
  loadAtEnd: number;
  /** Who trained the weights when not this bench (e.g. `pytorch 1.13.0 (1 threads)`, bench/ired_peer.py). */
  trainer?: string;
  /** The trainer's own energies on fixed inputs, to check imported weights against. */
  check?: { inp: number[][]; y: number[][]; t: number[]; energy: number[] };
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

/** The cache key of a training run: the config, seed and step count (and the cache format). */
export function trainKey(config: IredConfig, seed: number, steps: number): string {
  const text = JSON.stringify({ format: 1, config, seed, steps });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function saveWeights(
  dir: string,
  meta: Omit<TrainedMeta, 'tensors'>,
  ema: Record<string, TensorData>,
) {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(ema).sort();
  const tensors: TrainedMeta['tensors'] = [];
  let offset = 0;
  for (const name of names) {
    const t = ema[name] as TensorData;
    tensors.push({ name, shape: [...t.shape], offset, length: t.data.length });
    offset += t.data.length;
  }
  const all = new Float32Array(offset);
  for (const t of tensors) all.set((ema[t.name] as TensorData).data, t.offset);
  writeFileSync(join(dir, 'ema.f32.tmp'), new Uint8Array(all.buffer));
  renameSync(join(dir, 'ema.f32.tmp'), join(dir, 'ema.f32'));
  writeFileSync(join(dir, 'meta.json.tmp'), `${JSON.stringify({ ...meta, tensors }, null, 1)}\n`);
  renameSync(join(dir, 'meta.json.tmp'), join(dir, 'meta.json'));
}

function loadWeights(dir: string): { meta: TrainedMeta; params: VariableSet } {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TrainedMeta;
  const buf = readFileSync(join(dir, 'ema.f32'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const state: Record<string, TensorData> = {};
  for (const t of meta.tensors)
    state[t.name] = {
      dtype: 'float32',
      shape: t.shape,
      data: all.slice(t.offset, t.offset + t.length),
    };
  const params = initParams(meta.config.model, Rng.fromSeed(0));
  params.setState(state);
  return { meta, params };
}

/**
 * The EMA weights of the CPU default trained for `steps` steps from `seed`: read from the cache
 * when present, else trained here (printing progress) and cached.
 */
export async function trainedModel(
  seed: number,
  steps: number,
  log: (s: string) => void,
  config: IredConfig = cpuPreset,
  cacheRoot: string = CACHE_ROOT,
): Promise<{ meta: TrainedMeta; params: VariableSet; cached: boolean }> {
  const key = trainKey(config, seed, steps);
  const dir = join(cacheRoot, key);
  if (existsSync(join(dir, 'meta.json'))) return { ...loadWeights(dir), cached: true };
  log(`training the model: ${steps} steps, seed ${seed} (cache ${dir})`);
  const trainer = new IredTrainer({ config, seed });
  const loadAtStart = loadavg()[0] ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let last = t0;
  for (let s = 0; s < steps; s++) {
    const m = await trainer.trainStep();
    const now = performance.now();
    if (now - last > 30_000 || s === steps - 1) {
      last = now;
      const el = (now - t0) / 1000;
      log(
        `  step ${m.step}/${steps} loss ${m.loss.toFixed(4)}  ${el.toFixed(0)} s, ~${((el / (s + 1)) * (steps - s - 1)).toFixed(0)} s left, load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const ema = await trainer.ema.getState();
  trainer.dispose();
  saveWeights(
    dir,
    {
      key,
      seed,
      steps,
      config,
      wallSeconds: (performance.now() - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      loadAtStart,
      loadAtEnd: loadavg()[0] ?? 0,
    },
    ema,
  );
  return { ...loadWeights(dir), cached: false };
}

/**
 * The CPU default trained by the PyTorch peer (bench/ired_peer.py, train mode: the same model,
 * loss, Adam, clip and EMA as {@link IredTrainer}) for `minutes` of wall time on one thread, on a
 * pool of `poolSize` generated puzzles (31–42 givens, pool seed `seed`), its EMA weights written
 * in our names and layouts every 10 minutes. Cached under `cacheRoot`; returns the final weights'
 * directory (the bench cache format, loaded by {@link loadWeights}).
 */
async function torchTrainedModel(
  config: IredConfig,
  seed: number,
  minutes: number,
  poolSize: number,
  log: (s: string) => void,
  cacheRoot: string,
): Promise<string> {
  const dir = join(cacheRoot, `torch-${trainKey(config, seed, 0)}-${minutes}min-pool${poolSize}`);
  const done = join(dir, 'final.json');
  if (existsSync(done)) return (JSON.parse(readFileSync(done, 'utf8')) as { dir: string }).dir;
  const pool = puzzlePool(seed, poolSize, log, cacheRoot);
  const monitor = join(dir, 'monitor.csv');
  mkdirSync(dir, { recursive: true });
  // Progress only: 100 puzzles from their own seed, so nothing is chosen on the bench's held-out set.
  writeFileSync(
    monitor,
    formatRrnCsv(generatePuzzles(Rng.fromSeed(54321).stream('monitor'), 100, SATNET_GIVENS)),
  );
  log(
    `training the model with the PyTorch peer: ${minutes} min, 1 thread, ${poolSize} puzzles (${dir})`,
  );
  const r = await runPeer<{ dir: string; steps: number }>(
    {
      mode: 'train',
      config,
      seconds: minutes * 60,
      every: 600,
      seed,
      threads: 1,
      trainCsv: pool.file,
      heldoutCsv: monitor,
      outDir: dir,
    },
    (line) => log(`  ${line}`),
  );
  writeFileSync(`${done}.tmp`, `${JSON.stringify(r)}\n`);
  renameSync(`${done}.tmp`, done);
  return r.dir;
}

/**
 * Checks that our model computes the energies the PyTorch peer's trained model computed on the
 * fixed inputs recorded with its weights (`check` in meta.json: 4 boards, random y, landscapes
 * 0/3/6/9), so imported weights mean the same function, layouts and all. Weights written before
 * train mode recorded that are checked against the peer loading them back (`energy` mode).
 * Throws when any energy differs by more than 1e-3 relative; returns the largest difference.
 */
async function checkTorchParity(
  dir: string,
  check: TrainedMeta['check'],
  params: VariableSet,
  config: IredConfig,
  puzzles: readonly Puzzle[],
): Promise<{ worst: number; against: string }> {
  let inp: number[][];
  let y: number[][];
  let t: number[];
  let theirs: number[];
  let against: string;
  if (check !== undefined) {
    ({ inp, y, t, energy: theirs } = check);
    against = 'the trained PyTorch model';
  } else {
    const boards = puzzles.slice(0, 4);
    const enc = encodeBatch(boards.map((p) => p.quiz));
    const rng = Rng.fromSeed(1).stream('parity');
    inp = boards.map((_, b) => Array.from(enc.subarray(b * BOARD_SIZE, (b + 1) * BOARD_SIZE)));
    y = boards.map(() => Array.from({ length: BOARD_SIZE }, () => rng.normal(0, 1)));
    t = boards.map((_, i) => (3 * i) % config.diffusion.landscapes);
    theirs = (await runPeer<{ energy: number[] }>({ mode: 'energy', weightsDir: dir, inp, y, t }))
      .energy;
    against = 'PyTorch loading them back';
  }
  const ours = tf.tidy(() =>
    energy(
      config.model,
      params.record(),
      tf.tensor2d(inp.flat(), [inp.length, BOARD_SIZE]),
      tf.tensor2d(y.flat(), [y.length, BOARD_SIZE]),
      t,
    ).dataSync(),
  );
  let worst = 0;
  theirs.forEach((e, i) => {
    const o = ours[i] as number;
    worst = Math.max(worst, Math.abs(o - e) / Math.max(Math.abs(e), 1e-6));
  });
  if (!(worst <= 1e-3) || theirs.length !== ours.length)
    throw new XError(
      'INTERNAL',
      `PyTorch and @x/ired energies differ for the weights in ${dir}: ours ${Array.from(ours).join(', ')}, ${against} ${theirs.join(', ')}`,
    );
  return { worst, against };
}

/** One (opt steps, noise) arm: every held-out board under `maxRestarts` restarts. */
interface ArmResult {
  optSteps: number;
  noise: number;
  /** `[restart][board]` final energies and decoded answers. */
  energies: Float32Array[];
  answers: Grid[][];
  wallSeconds: number;
  cpuSeconds: number;
  load: number;
}

/** One row of the table: an arm with the lowest-energy answer among its first `restarts` restarts. */
export interface TtcCell {
  optSteps: number;
  noise: number;
  restarts: number;
  /** How the restarts' answers became one: the lowest final energy, or a per-cell vote (rows with 2+ restarts). */
  select: 'energy' | 'vote';
  boards: number;
  blankCells: number;
  blankCorrect: number;
  /** Correct blank cells over all blank cells (micro average). */
  blankCellAccuracy: number;
  /** 95 % interval of the blank-cell accuracy, boards as clusters (ratio estimator, normal approximation). */
  blankCellCi95: [number, number];
  /** Boards predicted exactly (strict solves; the held-out puzzles have unique solutions). */
  boardsSolved: number;
  boardAccuracy: number;
  /** Wilson 95 % interval of the strict-board rate. */
  boardCi95: [number, number];
  /** Blank-cell accuracy minus that of one deterministic trajectory (noise 0, restart 0) at the same opt steps, paired by board. */
  deltaBlankVsDeterministic: { value: number; ci95: [number, number] } | null;
  /** Boards solved here but not by the deterministic single trajectory, and the reverse. */
  boardsGained: number | null;
  boardsLost: number | null;
  /** Mean number of distinct decoded answers among the restarts considered. */
  meanDistinctAnswers: number;
  /** Boards solved by any of the restarts considered (what a perfect selector would get). */
  oracleBoardsSolved: number;
}

/** The JSON the bench writes. */
export interface TtcReport {
  bench: 'ired_ttc';
  version: 1;
  model: {
    source: 'trained' | 'cache' | 'checkpoint';
    path: string;
    trainSeed: number | null;
    trainSteps: number;
    trainWallSeconds: number | null;
    trainCpuSeconds: number | null;
    trainLoad: [number, number] | null;
    channels: number;
    blocks: number;
    /** Set when the weights were trained by the PyTorch peer (bench/ired_peer.py) and imported. */
    trainer?: string;
  };
  /** `range`: the ids (indices into the `boards` generated puzzles) this report covers. */
  heldout: {
    seed: number;
    boards: number;
    range: [number, number];
    minGivens: number;
    maxGivens: number;
  };
  sampleSeed: number;
  maxRestarts: number;
  restartPrefixes: number[];
  optSteps: number[];
  noise: number[];
  backend: string;
  threads: number | null;
  load: { start: number; end: number };
  wallSeconds: number;
  arms: {
    optSteps: number;
    noise: number;
    rows: number;
    wallSeconds: number;
    cpuSeconds: number;
    load: number;
  }[];
  cells: TtcCell[];
  /** Per arm, every restart's final energy and answer (81 digits) per board of `range`, for `--merge`. */
  raw: { optSteps: number; noise: number; energies: number[][]; answers: string[][] }[];
}

const Z95 = 1.959963984540054;

function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (Z95 * Z95) / n;
  const c = (p + (Z95 * Z95) / (2 * n)) / d;
  const r = (Z95 * Math.sqrt((p * (1 - p)) / n + (Z95 * Z95) / (4 * n * n))) / d;
  return [k === 0 ? 0 : Math.max(0, c - r), k === n ? 1 : Math.min(1, c + r)];
}

/** Ratio Σy/Σn with a cluster (per-board) 95 % interval. */
function ratioCi(
  y: readonly number[],
  n: readonly number[],
): { value: number; ci95: [number, number] } {
  const N = y.length;
  const sy = y.reduce((a, b) => a + b, 0);
  const sn = n.reduce((a, b) => a + b, 0);
  const r = sn === 0 ? 0 : sy / sn;
  let ss = 0;
  for (let i = 0; i < N; i++) ss += ((y[i] as number) - r * (n[i] as number)) ** 2;
  const se = N > 1 && sn > 0 ? Math.sqrt((ss * N) / (N - 1)) / sn : 0;
  return { value: r, ci95: [r - Z95 * se, r + Z95 * se] };
}

/** Builds the table rows of one arm for every restart prefix. */
export function armCells(
  puzzles: readonly Puzzle[],
  arm: Pick<ArmResult, 'optSteps' | 'noise' | 'energies' | 'answers'>,
  prefixes: readonly number[],
  baseline: Grid[] | undefined,
): TtcCell[] {
  const N = puzzles.length;
  const baseScores =
    baseline === undefined
      ? undefined
      : puzzles.map((p, b) => scoreBoard(p.quiz, p.solution, baseline[b] as Grid));
  const rows = prefixes.flatMap((k) =>
    k > 1
      ? [
          { k, select: 'energy' as const },
          { k, select: 'vote' as const },
        ]
      : [{ k, select: 'energy' as const }],
  );
  return rows.map(({ k, select }) => {
    let picked: Grid[];
    if (select === 'vote') picked = voteAnswers(arm.answers, arm.energies, k);
    else {
      const chosen = lowestEnergyRestart(arm.energies, k);
      picked = puzzles.map((_, b) => (arm.answers[chosen[b] as number] as Grid[])[b] as Grid);
    }
    const scores = puzzles.map((p, b) => scoreBoard(p.quiz, p.solution, picked[b] as Grid));
    const blanks = scores.map((s) => s.blanks);
    const correct = scores.map((s) => s.blanksCorrect);
    const acc = ratioCi(correct, blanks);
    const solved = scores.filter((s) => s.exact).length;
    let distinct = 0;
    let oracle = 0;
    for (let b = 0; b < N; b++) {
      const seen = new Set<string>();
      let any = false;
      for (let r = 0; r < k; r++) {
        const g = (arm.answers[r] as Grid[])[b] as Grid;
        seen.add(Buffer.from(g).toString('hex'));
        if (!any)
          any = scoreBoard((puzzles[b] as Puzzle).quiz, (puzzles[b] as Puzzle).solution, g).exact;
      }
      distinct += seen.size;
      if (any) oracle++;
    }
    let delta: TtcCell['deltaBlankVsDeterministic'] = null;
    let gained: number | null = null;
    let lost: number | null = null;
    if (baseScores !== undefined) {
      delta = ratioCi(
        scores.map((s, b) => s.blanksCorrect - (baseScores[b]?.blanksCorrect as number)),
        blanks,
      );
      gained = scores.filter((s, b) => s.exact && baseScores[b]?.exact !== true).length;
      lost = scores.filter((s, b) => !s.exact && baseScores[b]?.exact === true).length;
    }
    return {
      optSteps: arm.optSteps,
      noise: arm.noise,
      restarts: k,
      select,
      boards: N,
      blankCells: blanks.reduce((a, c) => a + c, 0),
      blankCorrect: correct.reduce((a, c) => a + c, 0),
      blankCellAccuracy: acc.value,
      blankCellCi95: acc.ci95,
      boardsSolved: solved,
      boardAccuracy: solved / N,
      boardCi95: wilson(solved, N),
      deltaBlankVsDeterministic: delta,
      boardsGained: gained,
      boardsLost: lost,
      meanDistinctAnswers: distinct / N,
      oracleBoardsSolved: oracle,
    };
  });
}

const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}`;

/** The markdown table of a report. */
export function ttcTable(r: TtcReport): string {
  const lines = [
    '| opt steps | noise | restarts | select | blank-cell acc % (95% CI) | Δ blank vs 1 det. (pp, 95% CI) | strict boards (95% CI) | gained/lost | distinct answers | any-restart solved |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of r.cells) {
    const d = c.deltaBlankVsDeterministic;
    lines.push(
      `| ${c.optSteps} | ${c.noise} | ${c.restarts} | ${c.select} | ${pct(c.blankCellAccuracy)} (${pct(c.blankCellCi95[0])}–${pct(c.blankCellCi95[1])}) | ${
        d === null
          ? '—'
          : `${d.value >= 0 ? '+' : ''}${pct(d.value, 2)} (${pct(d.ci95[0], 2)} to ${pct(d.ci95[1], 2)})`
      } | ${c.boardsSolved}/${c.boards} (${pct(c.boardCi95[0], 0)}–${pct(c.boardCi95[1], 0)}%) | ${
        c.boardsGained === null ? '—' : `+${c.boardsGained}/−${c.boardsLost}`
      } | ${c.meanDistinctAnswers.toFixed(2)} | ${c.oracleBoardsSolved}/${c.boards} |`,
    );
  }
  return lines.join('\n');
}

/** Options of {@link runTtc}. */
export interface TtcOptions {
  params: VariableSet;
  config: IredConfig;
  model: TtcReport['model'];
  puzzles: Puzzle[];
  /** Id of `puzzles[0]` in the held-out set of `heldoutBoards` (its noise streams use the id). */
  firstId: number;
  heldoutBoards: number;
  heldoutSeed: number;
  sampleSeed: number;
  optSteps: number[];
  noise: number[];
  maxRestarts: number;
  /** Rows (boards × restarts) per sampling call. */
  batchRows: number;
  log: (s: string) => void;
  /** Called with the report so far after every arm (partial results survive a timeout). */
  onArm?: (r: TtcReport) => void;
  backend: string;
  threads: number | null;
}

/** Work of one arm in forward-pass units: per landscape one gradient (≈3) and per step a gradient and an energy (≈4). */
const armWork = (optSteps: number, rows: number) => rows * (3 + 4 * optSteps);

/**
 * Runs every (opt steps, noise) arm on all boards × `maxRestarts` restarts in large batches,
 * derives the restart prefixes exactly (the first k restarts, lowest energy among them), and
 * returns the report.
 */
export async function runTtc(o: TtcOptions): Promise<TtcReport> {
  const schedule = cosineSchedule(o.config.diffusion.landscapes);
  const rng = Rng.fromSeed(o.sampleSeed).stream('ttc');
  const N = o.puzzles.length;
  const R = o.maxRestarts;
  const prefixes = [...new Set([1, 4, 8, R].filter((k) => k <= R))].sort((a, b) => a - b);
  const arms: [number, number][] = [];
  for (const s of o.optSteps) for (const n of o.noise) arms.push([s, n]);
  const totalWork = arms.reduce((a, [s]) => a + armWork(s, N * R), 0);
  const boardsPerCall = Math.max(1, Math.floor(o.batchRows / R));
  const t0 = performance.now();
  const loadStart = loadavg()[0] ?? 0;
  let done = 0;
  const report: TtcReport = {
    bench: 'ired_ttc',
    version: 1,
    model: o.model,
    heldout: {
      seed: o.heldoutSeed,
      boards: o.heldoutBoards,
      range: [o.firstId, o.firstId + N],
      minGivens: SATNET_GIVENS.minGivens,
      maxGivens: SATNET_GIVENS.maxGivens,
    },
    sampleSeed: o.sampleSeed,
    maxRestarts: R,
    restartPrefixes: prefixes,
    optSteps: o.optSteps,
    noise: o.noise,
    backend: o.backend,
    threads: o.threads,
    load: { start: loadStart, end: loadStart },
    wallSeconds: 0,
    arms: [],
    cells: [],
    raw: [],
  };
  const baselines = new Map<number, Grid[]>();
  for (const [steps, noise] of arms) {
    const a0 = performance.now();
    const c0 = process.cpuUsage();
    const energies = Array.from({ length: R }, () => new Float32Array(N));
    const answers: Grid[][] = Array.from({ length: R }, () => new Array<Grid>(N));
    for (let start = 0; start < N; start += boardsPerCall) {
      const batch = o.puzzles.slice(start, start + boardsPerCall);
      const r = await sampleBoards(
        o.params.record(),
        batch.map((p) => p.quiz),
        {
          model: o.config.model,
          schedule,
          optSteps: steps,
          restarts: R,
          noise,
          rng,
          ids: batch.map((_, i) => o.firstId + start + i),
        },
      );
      for (let k = 0; k < R; k++)
        batch.forEach((_, i) => {
          (energies[k] as Float32Array)[start + i] = (r.restartEnergies[k] as Float32Array)[
            i
          ] as number;
          (answers[k] as Grid[])[start + i] = (r.restartPredictions[k] as Grid[])[i] as Grid;
        });
      done += armWork(steps, batch.length * R);
      const el = (performance.now() - t0) / 1000;
      o.log(
        `  steps ${steps}, noise ${noise}: ${Math.min(start + boardsPerCall, N)}/${N} boards × ${R} restarts; ${el.toFixed(0)} s elapsed, ~${((el / done) * (totalWork - done)).toFixed(0)} s left (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
    const cpu = process.cpuUsage(c0);
    const arm: ArmResult = {
      optSteps: steps,
      noise,
      energies,
      answers,
      wallSeconds: (performance.now() - a0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      load: loadavg()[0] ?? 0,
    };
    if (noise === 0) baselines.set(steps, answers[0] as Grid[]);
    report.arms.push({
      optSteps: steps,
      noise,
      rows: N * R,
      wallSeconds: arm.wallSeconds,
      cpuSeconds: arm.cpuSeconds,
      load: arm.load,
    });
    report.cells.push(...armCells(o.puzzles, arm, prefixes, baselines.get(steps)));
    report.raw.push({
      optSteps: steps,
      noise,
      energies: energies.map((e) => Array.from(e)),
      answers: answers.map((a) => a.map(gridToString)),
    });
    report.load.end = loadavg()[0] ?? 0;
    report.wallSeconds = (performance.now() - t0) / 1000;
    o.onArm?.(report);
  }
  return report;
}

/**
 * Joins reports of shards (`--board-range`, `--only`) of one configuration into one report: the
 * raw answers of each arm are concatenated over board ranges (which must tile 0..boards) and the
 * table is recomputed, so the result equals a single run's.
 */
export function mergeReports(
  parts: readonly TtcReport[],
  /** When given, an arm whose shards do not tile 0..boards is reported here and left out (else an error). */
  skipIncomplete?: (message: string) => void,
): TtcReport {
  const first = parts[0];
  if (first === undefined) throw new XError('INVALID_INPUT', '--merge: no reports given');
  const same = (r: TtcReport) =>
    JSON.stringify([
      r.model.path,
      r.model.trainSteps,
      r.heldout.seed,
      r.heldout.boards,
      r.sampleSeed,
      r.maxRestarts,
    ]);
  for (const r of parts)
    if (same(r) !== same(first))
      throw new XError(
        'INVALID_INPUT',
        `--merge: reports differ in model, held-out set, seed or restarts: ${same(r)} vs ${same(first)}`,
      );
  const total = first.heldout.boards;
  const R = first.maxRestarts;
  const puzzles = generatePuzzles(
    Rng.fromSeed(first.heldout.seed).stream('heldout'),
    total,
    SATNET_GIVENS,
  );
  const byArm = new Map<
    string,
    { optSteps: number; noise: number; pieces: { at: number; raw: TtcReport['raw'][number] }[] }
  >();
  for (const r of parts)
    for (const raw of r.raw) {
      const key = `${raw.optSteps}/${raw.noise}`;
      const arm = byArm.get(key) ?? { optSteps: raw.optSteps, noise: raw.noise, pieces: [] };
      arm.pieces.push({ at: r.heldout.range[0], raw });
      byArm.set(key, arm);
    }
  const arms = [...byArm.values()].sort((a, b) => a.optSteps - b.optSteps || a.noise - b.noise);
  const baselines = new Map<number, Grid[]>();
  const cells: TtcCell[] = [];
  const out: TtcReport = {
    ...first,
    heldout: { ...first.heldout, range: [0, total] },
    optSteps: [...new Set(arms.map((a) => a.optSteps))],
    noise: [...new Set(arms.map((a) => a.noise))].sort((a, b) => a - b),
    load: {
      start: Math.min(...parts.map((r) => r.load.start)),
      end: Math.max(...parts.map((r) => r.load.end)),
    },
    wallSeconds: Math.max(...parts.map((r) => r.wallSeconds)),
    arms: [],
    cells,
    raw: [],
  };
  for (const arm of arms) {
    arm.pieces.sort((a, b) => a.at - b.at);
    const energies = Array.from({ length: R }, () => new Float32Array(total));
    const answers: Grid[][] = Array.from({ length: R }, () => new Array<Grid>(total));
    let next = 0;
    let problem: string | undefined;
    for (const { at, raw } of arm.pieces) {
      if (at !== next) {
        problem = `--merge: arm steps ${arm.optSteps} noise ${arm.noise}: boards ${next}..${at - 1} missing or overlapping`;
        break;
      }
      const n = (raw.answers[0] ?? []).length;
      for (let k = 0; k < R; k++)
        for (let b = 0; b < n; b++) {
          (energies[k] as Float32Array)[at + b] = raw.energies[k]?.[b] as number;
          const g = gridFromString(raw.answers[k]?.[b] ?? '');
          if (g === undefined)
            throw new XError(
              'INVALID_INPUT',
              `--merge: arm steps ${arm.optSteps} noise ${arm.noise}: restart ${k} board ${at + b} is not an 81-digit grid`,
            );
          (answers[k] as Grid[])[at + b] = g;
        }
      next = at + n;
    }
    if (problem === undefined && next !== total)
      problem = `--merge: arm steps ${arm.optSteps} noise ${arm.noise} covers boards 0..${next - 1} of ${total}`;
    if (problem !== undefined) {
      if (skipIncomplete === undefined) throw new XError('INVALID_INPUT', problem);
      skipIncomplete(`${problem}; left out`);
      continue;
    }
    if (arm.noise === 0) baselines.set(arm.optSteps, answers[0] as Grid[]);
    const timing = parts.flatMap((r) =>
      r.arms.filter((a) => a.optSteps === arm.optSteps && a.noise === arm.noise),
    );
    out.arms.push({
      optSteps: arm.optSteps,
      noise: arm.noise,
      rows: total * R,
      wallSeconds: Math.max(...timing.map((t) => t.wallSeconds)),
      cpuSeconds: timing.reduce((a, t) => a + t.cpuSeconds, 0),
      load: Math.max(...timing.map((t) => t.load)),
    });
    cells.push(
      ...armCells(
        puzzles,
        { ...arm, energies, answers },
        first.restartPrefixes,
        baselines.get(arm.optSteps),
      ),
    );
    out.raw.push({
      optSteps: arm.optSteps,
      noise: arm.noise,
      energies: energies.map((e) => Array.from(e)),
      answers: answers.map((a) => a.map(gridToString)),
    });
  }
  return out;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--'))
    throw new XError('INVALID_INPUT', `--${name}: expected a value`);
  return v;
}

function intFlag(args: string[], name: string, fallback: number, min: number): number {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min)
    throw new XError('INVALID_INPUT', `--${name}: expected an integer >= ${min}, got '${raw}'`);
  return v;
}

function listFlag(args: string[], name: string, fallback: number[]): number[] {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  const v = raw.split(',').map(Number);
  if (v.length === 0 || v.some((x) => !Number.isFinite(x) || x < 0))
    throw new XError(
      'INVALID_INPUT',
      `--${name}: expected comma-separated numbers >= 0, got '${raw}'`,
    );
  return v;
}

/** `--only steps=1,5` / `--only noise=1` (repeatable): keep only those arms. */
function onlyFilters(args: string[]): { steps?: number[]; noise?: number[] } {
  const out: { steps?: number[]; noise?: number[] } = {};
  args.forEach((a, i) => {
    if (a !== '--only') return;
    const m = /^(steps|noise)=([\d.,]+)$/.exec(args[i + 1] ?? '');
    if (m === null)
      throw new XError(
        'INVALID_INPUT',
        `--only: expected steps=<list> or noise=<list>, got '${args[i + 1] ?? ''}'`,
      );
    out[m[1] as 'steps' | 'noise'] = (m[2] as string).split(',').map(Number);
  });
  return out;
}

const USAGE = `pnpm bench ired_ttc [--checkpoint <ckpt|run-dir|cache-dir>] [--seed 0] [--train-steps 2500]
  [--boards 64] [--heldout-seed 12345] [--sample-seed 7] [--opt-steps 1,5,20,80] [--noise 0,1]
  [--restarts 8] [--batch-rows 128] [--only steps=<list>|noise=<list>] [--json <file>]
  [--board-range a:b] [--cache <dir>] [--tiny] [--torch-minutes <m> [--pool 200000]]
pnpm bench ired_ttc [--json <file>] [--allow-partial] --merge <report.json>...   (join shards of one configuration)`;

/**
 * \`pnpm bench ired_ttc\`: test-time compute of IRED on a trained model — blank-cell and strict-board
 * accuracy for opt steps × restarts (1, 4, 8) with and without reverse-process noise, on seeded
 * held-out generated puzzles (31–42 givens). Without \`--checkpoint\`, trains the CPU default
 * (\`--train-steps\`, \`--seed\`) once and caches its EMA weights under bench/out/cache/ired/;
 * with \`--torch-minutes\`, the PyTorch peer trains the same model for that long instead (about 5×
 * the steps per CPU second, see ired_curve) and its weights are imported after an energy check.
 * Restarts 1 and 4 are the first 1 and 4 of the 8 computed restarts (same seeds), so they are
 * exact. \`--tiny\`: a 4-channel model trained 2 steps (for the JSON-shape test).
 */
export async function main(args: string[]): Promise<void> {
  try {
    await run(args);
  } catch (e) {
    if (!(e instanceof XError) || args.includes('--debug')) throw e;
    process.stderr.write(`ired_ttc: ${e.code}: ${e.message}\n${USAGE}\n`);
    process.exitCode = 2;
  }
}

async function run(args: string[]): Promise<void> {
  if (args.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const writeJson = (path: string, r: TtcReport) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, `${JSON.stringify(r)}\n`);
    renameSync(`${path}.tmp`, path);
  };
  const mergeAt = args.indexOf('--merge');
  if (mergeAt >= 0) {
    const files = args.slice(mergeAt + 1).filter((a) => !a.startsWith('--'));
    const merged = mergeReports(
      files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as TtcReport),
      args.includes('--allow-partial') ? w : undefined,
    );
    const out = resolve(flag(args.slice(0, mergeAt), 'json') ?? join(here, 'out', 'ired_ttc.json'));
    w(ttcTable(merged));
    w('');
    w(
      `${merged.heldout.boards} boards, train seed ${merged.model.trainSeed} (${merged.model.trainSteps} steps), held-out seed ${merged.heldout.seed}, sampling seed ${merged.sampleSeed}; merged from ${files.length} reports; ${merged.wallSeconds.toFixed(0)} s wall (longest shard); load ${merged.load.start.toFixed(2)} → ${merged.load.end.toFixed(2)}`,
    );
    writeJson(out, merged);
    w(`wrote ${out}`);
    return;
  }
  const tiny = args.includes('--tiny');
  const seed = intFlag(args, 'seed', 0, 0);
  const trainSteps = intFlag(args, 'train-steps', tiny ? 2 : 2500, 0);
  const boards = intFlag(args, 'boards', tiny ? 2 : 64, 1);
  const heldoutSeed = intFlag(args, 'heldout-seed', 12345, 0);
  const sampleSeed = intFlag(args, 'sample-seed', 7, 0);
  const maxRestarts = intFlag(args, 'restarts', 8, 1);
  const batchRows = intFlag(args, 'batch-rows', 128, 1);
  const only = onlyFilters(args);
  const rangeRaw = flag(args, 'board-range') ?? `0:${boards}`;
  const rm = /^(\d+):(\d+)$/.exec(rangeRaw);
  const range = [Number(rm?.[1]), Number(rm?.[2])] as const;
  if (rm === null || range[0] >= range[1] || range[1] > boards)
    throw new XError(
      'INVALID_INPUT',
      `--board-range: expected a:b with 0 <= a < b <= ${boards}, got '${rangeRaw}'`,
    );
  const optSteps = listFlag(args, 'opt-steps', tiny ? [1] : [1, 5, 20, 80]).filter(
    (s) => only.steps === undefined || only.steps.includes(s),
  );
  const noise = listFlag(args, 'noise', [0, 1]).filter(
    (n) => only.noise === undefined || only.noise.includes(n),
  );
  if (optSteps.some((s) => !Number.isInteger(s)))
    throw new XError('INVALID_INPUT', `--opt-steps: expected integers, got ${optSteps.join(',')}`);
  if (optSteps.length === 0 || noise.length === 0)
    throw new XError('INVALID_INPUT', '--only: no (opt steps, noise) arm left to run');
  const jsonPath = resolve(flag(args, 'json') ?? join(here, 'out', 'ired_ttc.json'));
  const cacheRoot = resolve(flag(args, 'cache') ?? CACHE_ROOT);
  const ckpt = flag(args, 'checkpoint');
  const info = await initBackend('auto');
  w(
    `ired_ttc: backend ${info.name}${info.threads === undefined ? '' : ` (${info.threads} threads)`}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  let params: VariableSet;
  let config: IredConfig;
  let model: TtcReport['model'];
  // Weights in this bench's cache format: `source` and where they are.
  const fromCache = (
    source: TtcReport['model']['source'],
    dir: string,
    m: { meta: TrainedMeta; params: VariableSet } = loadWeights(dir),
  ) => ({
    params: m.params,
    config: m.meta.config,
    model: {
      source,
      path: dir,
      trainSeed: m.meta.seed,
      trainSteps: m.meta.steps,
      trainWallSeconds: m.meta.wallSeconds,
      trainCpuSeconds: m.meta.cpuSeconds,
      trainLoad: [m.meta.loadAtStart, m.meta.loadAtEnd] as [number, number],
      channels: m.meta.config.model.channels,
      blocks: m.meta.config.model.blocks,
      ...(m.meta.trainer === undefined ? {} : { trainer: m.meta.trainer }),
    },
  });
  if (ckpt !== undefined && existsSync(join(resolve(ckpt), 'meta.json'))) {
    // A directory of this bench's cache (e.g. trained under an earlier config key).
    ({ params, config, model } = fromCache('checkpoint', resolve(ckpt)));
  } else if (ckpt !== undefined) {
    const { loadIredModel } = await import('../apps/runner/src/ired/sample.js');
    const m = await loadIredModel(resolve(ckpt));
    params = m.params;
    config = m.config;
    model = {
      source: 'checkpoint',
      path: m.checkpoint,
      trainSeed: m.seed,
      trainSteps: m.step,
      trainWallSeconds: null,
      trainCpuSeconds: null,
      trainLoad: null,
      channels: config.model.channels,
      blocks: config.model.blocks,
    };
  } else if (flag(args, 'torch-minutes') !== undefined) {
    const minutes = Number(flag(args, 'torch-minutes'));
    if (!(minutes > 0))
      throw new XError(
        'INVALID_INPUT',
        `--torch-minutes: expected minutes > 0, got '${flag(args, 'torch-minutes')}'`,
      );
    const cfg = tiny ? tinyConfig() : cpuPreset;
    const pool = intFlag(args, 'pool', 200000, 1);
    const dir = await torchTrainedModel(cfg, seed, minutes, pool, w, cacheRoot);
    ({ params, config, model } = fromCache('trained', dir));
  } else {
    const cfg = tiny ? tinyConfig() : cpuPreset;
    const m = await trainedModel(seed, trainSteps, w, cfg, cacheRoot);
    ({ params, config, model } = fromCache(
      m.cached ? 'cache' : 'trained',
      join(cacheRoot, m.meta.key),
      m,
    ));
  }
  w(
    `model: ${model.source} ${model.path}, ${model.channels} ch × ${model.blocks} blocks, ${model.trainSteps} steps (seed ${model.trainSeed})${
      model.trainWallSeconds === null
        ? ''
        : `, trained in ${model.trainWallSeconds.toFixed(0)} s wall / ${model.trainCpuSeconds?.toFixed(0)} s cpu`
    }`,
  );
  const heldout = generatePuzzles(
    Rng.fromSeed(heldoutSeed).stream('heldout'),
    boards,
    SATNET_GIVENS,
  );
  if (model.trainer !== undefined) {
    const { check } = JSON.parse(
      readFileSync(join(model.path, 'meta.json'), 'utf8'),
    ) as TrainedMeta;
    const p = await checkTorchParity(model.path, check, params, config, heldout);
    w(
      `trained by ${model.trainer}; energies of ours and ${p.against} agree to ${p.worst.toExponential(1)} (relative)`,
    );
  }
  w(
    `held-out: ${boards} generated puzzles (31–42 givens, seed ${heldoutSeed}); sampling seed ${sampleSeed}; ${maxRestarts} restarts per arm; arms: opt steps ${optSteps.join('/')} × noise ${noise.join('/')}`,
  );
  const puzzles = heldout.slice(range[0], range[1]);
  const write = (r: TtcReport) => writeJson(jsonPath, r);
  const report = await runTtc({
    params,
    config,
    model,
    puzzles,
    firstId: range[0],
    heldoutBoards: boards,
    heldoutSeed,
    sampleSeed,
    optSteps,
    noise,
    maxRestarts,
    batchRows,
    log: w,
    onArm: write,
    backend: info.name,
    threads: info.threads ?? null,
  });
  params.dispose();
  w('');
  w(ttcTable(report));
  w('');
  w(
    `${boards} boards, train seed ${model.trainSeed}, held-out seed ${heldoutSeed}, sampling seed ${sampleSeed}; ${report.wallSeconds.toFixed(0)} s; load ${report.load.start.toFixed(2)} → ${report.load.end.toFixed(2)}`,
  );
  w(`wrote ${jsonPath}`);
}
