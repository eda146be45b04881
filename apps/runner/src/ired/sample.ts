import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadFrom } from '@x/checkpoint';
import { Rng, XError } from '@x/core';
import {
  cosineSchedule,
  countGivens,
  evaluateBoards,
  formatRrnCsv,
  gridToString,
  initParams,
  NestedComponent,
  parseIredConfig,
  sampleBoards,
  type BoardScore,
  type IredConfig,
  type Puzzle,
  type SudokuMetrics,
} from '@x/ired';
import { TrajectoryLogger } from '@x/logging';
import { initBackend, type VariableSet } from '@x/tensor';
import { writeFileAtomic } from '../atomicWrite.js';
import { progressView } from '../progress.js';
import type { BackendRequest } from '../runSetup.js';
import { yieldToLoop } from '../trainLoop.js';
import { EnergyDescent, boardSvg } from './svg.js';

/** A model restored from a checkpoint (EMA weights). */
export interface LoadedModel {
  config: IredConfig;
  params: VariableSet;
  step: number;
  checkpoint: string;
  seed: number;
}

/** Restores the EMA weights (evaluation uses EMA weights) and config of `<ckpt|run-dir>`. */
export async function loadIredModel(path: string): Promise<LoadedModel> {
  const loaded = await loadFrom(path);
  const meta = loaded.manifest.metadata as { config?: unknown; seed?: unknown } | undefined;
  if (meta?.config === undefined)
    throw new XError(
      'INVALID_INPUT',
      `${loaded.dir}: not an ired checkpoint (no config in its manifest metadata)`,
    );
  const config = parseIredConfig(meta.config, `${loaded.dir}/manifest.json metadata.config`);
  const ema = loaded.state['ema'];
  if (ema === undefined)
    throw new XError('INVALID_INPUT', `${loaded.dir}: no 'ema' component in the checkpoint`);
  const params = initParams(config.model, Rng.fromSeed(0));
  await new NestedComponent(params).setState(ema);
  return {
    config,
    params,
    step: loaded.step,
    checkpoint: loaded.dir,
    seed: typeof meta.seed === 'number' ? meta.seed : 0,
  };
}

/** Options of {@link runIredSample}. */
export interface IredSampleOptions {
  model: LoadedModel;
  puzzles: readonly Puzzle[];
  /** Label of the puzzle source (trajectory metadata `difficulty`). */
  difficulty: string;
  outDir: string | undefined;
  trajectoriesDir: string | undefined;
  restarts: number;
  optSteps: number;
  /** Reverse-process noise scale (default 0: deterministic; see `SampleOptions.noise`). */
  noise?: number;
  batchSize: number;
  seed: number;
  pictures: number;
  /** `--quiet`: no progress view. */
  quiet: boolean;
  /** Stops at the next batch boundary when aborted (nothing final is written then). */
  signal?: AbortSignal | undefined;
}

/** What sampling produced. */
export interface IredSampleOutcome {
  metrics: SudokuMetrics;
  boards: BoardScore[];
  files: string[];
  seconds: number;
  /** Puzzles processed (fewer than given when interrupted). */
  processed: number;
  interrupted: boolean;
}

/**
 * Solves puzzles with a restored model in batches; writes `predictions.csv` (`quiz,prediction`),
 * `predictions.jsonl` (per-board scores), board SVGs and the energy-per-step chart into
 * `outDir`, and one trajectory `.npz` per batch and restart into `trajectoriesDir`.
 */
export async function runIredSample(o: IredSampleOptions): Promise<IredSampleOutcome> {
  const { model, puzzles } = o;
  const schedule = cosineSchedule(model.config.diffusion.landscapes);
  const files: string[] = [];
  const predictions: Uint8Array[] = [];
  const energies: number[] = [];
  const chosen: number[] = [];
  const chart = new EnergyDescent();
  const traj =
    o.trajectoriesDir === undefined
      ? undefined
      : new TrajectoryLogger({
          transform: (s) => ({ data: s.data, shape: [s.data.length / 729, 9, 9, 9] }),
        });
  if (o.trajectoriesDir !== undefined) mkdirSync(o.trajectoriesDir, { recursive: true });
  const rng = Rng.fromSeed(o.seed).stream('sample');
  const t0 = performance.now();
  const view = progressView({ label: 'ired sample', total: puzzles.length, quiet: o.quiet });
  let processed = 0;
  for (let start = 0; start < puzzles.length; start += o.batchSize) {
    await yieldToLoop();
    if (o.signal?.aborted === true) break;
    const batch = puzzles.slice(start, start + o.batchSize);
    const ids = batch.map((_, i) => start + i);
    const bi = start / o.batchSize;
    const open = new Map<number, string>();
    // Promise.resolve: sampling is synchronous or asynchronous depending on the backend API.
    const r = await Promise.resolve(
      sampleBoards(
        model.params.record(),
        batch.map((p) => p.quiz),
        {
          model: model.config.model,
          schedule,
          optSteps: o.optSteps,
          restarts: o.restarts,
          noise: o.noise ?? 0,
          rng,
          ids,
          hooks: {
            onStep(e) {
              chart.add(e);
              if (traj === undefined || e.kind === 'denoise') return;
              let id = open.get(e.restart);
              if (id === undefined) {
                id = traj.init(`batch-${String(bi).padStart(4, '0')}_restart-${e.restart}`, {
                  difficulty: o.difficulty,
                  landscapeIdx: e.landscapeOrder,
                  meta: {
                    problem_ids: ids.join(','),
                    givens: batch.map((p) => countGivens(p.quiz)).join(','),
                    quizzes: batch.map((p) => gridToString(p.quiz)).join(','),
                    restart: e.restart,
                    reverse_noise: o.noise ?? 0,
                    entries: 'attempted then final, per optimisation step',
                    state_scale: 'raw y, in ±sqrt(alpha_bar[t]); t = time_steps',
                    checkpoint: model.checkpoint,
                  },
                });
                open.set(e.restart, id);
              }
              traj.append(id, {
                state: e.state,
                energy: e.energy,
                step: e.step,
                success: e.valid,
                landscapeIdx: e.landscapeOrder,
                stepRejected: e.rejected,
                timeStep: e.landscape,
              });
            },
          },
        },
      ),
    );
    for (const [restart, id] of open) {
      const file = join(
        o.trajectoriesDir as string,
        `batch-${String(bi).padStart(4, '0')}_restart-${restart}.npz`,
      );
      await traj?.save(id, file, { completed: true });
      traj?.clear(id);
      files.push(file);
    }
    predictions.push(...r.predictions);
    energies.push(...r.energies);
    chosen.push(...r.chosenRestart);
    processed = Math.min(start + o.batchSize, puzzles.length);
    const sofar = evaluateBoards(
      batch.map((p) => p.quiz),
      batch.map((p) => p.solution),
      r.predictions,
    ).metrics;
    view.log(
      { boardsSolved: sofar.boardAccuracy, blankCellAccuracy: sofar.blankCellAccuracy },
      { step: processed, category: 'batch' },
    );
  }
  await view.close({ exitCode: 0, preempting: false });
  const seconds = (performance.now() - t0) / 1000;
  const done = puzzles.slice(0, processed);
  const { metrics, boards } = evaluateBoards(
    done.map((p) => p.quiz),
    done.map((p) => p.solution),
    predictions,
  );
  const interrupted = processed < puzzles.length;
  if (o.outDir !== undefined && !interrupted) {
    mkdirSync(join(o.outDir, 'svg'), { recursive: true });
    const csv = join(o.outDir, 'predictions.csv');
    writeFileAtomic(
      csv,
      formatRrnCsv(
        puzzles.map((p, i) => ({ quiz: p.quiz, solution: predictions[i] as Uint8Array })),
      ),
    );
    const jsonl = join(o.outDir, 'predictions.jsonl');
    writeFileAtomic(
      jsonl,
      boards
        .map((b, i) =>
          JSON.stringify({
            id: i,
            givens: countGivens((puzzles[i] as Puzzle).quiz),
            prediction: gridToString(predictions[i] as Uint8Array),
            energy: energies[i],
            restart: chosen[i],
            ...b,
          }),
        )
        .join('\n') + '\n',
    );
    files.push(csv, jsonl);
    for (let i = 0; i < Math.min(o.pictures, puzzles.length); i++) {
      const p = puzzles[i] as Puzzle;
      const b = boards[i] as BoardScore;
      const f = join(o.outDir, 'svg', `board-${String(i).padStart(4, '0')}.svg`);
      writeFileAtomic(
        f,
        boardSvg(
          p.quiz,
          predictions[i] as Uint8Array,
          p.solution,
          `puzzle ${i}: ${b.blanksCorrect}/${b.blanks} blanks${b.exact ? ', solved' : ''}`,
        ),
      );
      files.push(f);
    }
    if (chart.size > 0) {
      const f = join(o.outDir, 'svg', 'energy-per-step.svg');
      writeFileAtomic(
        f,
        chart.svg(
          `energy descent within each landscape (mean over ${puzzles.length} boards × ${o.restarts} restarts)`,
        ),
      );
      files.push(f);
    }
  }
  return { metrics, boards, files, seconds, processed, interrupted };
}

/** Initialises the backend for sampling commands. */
export async function sampleBackend(backend: BackendRequest): Promise<string> {
  return (await initBackend(backend)).name;
}
