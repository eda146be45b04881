import { dirname, join, resolve } from 'node:path';
import { Rng, XError } from '@x/core';
import { generatePuzzles, readRrnCsv, type Puzzle } from '@x/ired';
import type { Command, CommandContext } from '../command.js';
import { iredRunDefaults, iredRunSchema } from '../ired/config.js';
import { loadIredModel, runIredSample, sampleBackend } from '../ired/sample.js';
import { runIredTrain } from '../ired/train.js';
import { int, str as flag } from '../flags.js';
import { backendFlag, resolveTrainSetup, trainFlags } from '../runSetup.js';

const str = (ctx: CommandContext, name: string) => flag(ctx.values, name);
const intFlag = (ctx: CommandContext, name: string, fallback: number, min: number) =>
  int(ctx.values, name, min, fallback);

function givensFlag(ctx: CommandContext): { minGivens: number; maxGivens: number } {
  const raw = str(ctx, 'givens') ?? '31-42';
  const m = /^(\d+)-(\d+)$/.exec(raw.trim());
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (m === null || lo < 17 || hi > 81 || lo > hi)
    throw new XError(
      'INVALID_INPUT',
      `--givens: expected a range like 31-42 within 17..81, got '${raw}'`,
    );
  return { minGivens: lo, maxGivens: hi };
}

function puzzlesFrom(ctx: CommandContext): { puzzles: Puzzle[]; difficulty: string } {
  const file = str(ctx, 'puzzles');
  const gen = str(ctx, 'generate');
  if ((file === undefined) === (gen === undefined))
    throw new XError('INVALID_INPUT', 'give exactly one of --puzzles <file.csv> or --generate <n>');
  let puzzles: Puzzle[];
  let difficulty: string;
  if (file !== undefined) {
    puzzles = readRrnCsv(resolve(ctx.cwd, file));
    difficulty = `csv:${file}`;
  } else {
    const range = givensFlag(ctx);
    puzzles = generatePuzzles(
      Rng.fromSeed(intFlag(ctx, 'seed', 0, 0)).stream('generate'),
      intFlag(ctx, 'generate', 0, 1),
      range,
    );
    difficulty = `generated ${range.minGivens}-${range.maxGivens} givens`;
  }
  const limit = intFlag(ctx, 'limit', puzzles.length, 1);
  if (puzzles.length === 0)
    throw new XError('INVALID_INPUT', `${file ?? '--generate'}: no puzzles`);
  return { puzzles: puzzles.slice(0, limit), difficulty };
}

function noiseFlag(ctx: CommandContext): number | undefined {
  const raw = str(ctx, 'noise');
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0)
    throw new XError('INVALID_INPUT', `--noise: expected a number >= 0, got '${raw}'`);
  return v;
}

const solveFlags = {
  checkpoint: { type: 'string' },
  puzzles: { type: 'string' },
  generate: { type: 'string' },
  givens: {
    type: 'string',
    arg: 'lo-hi',
    description: 'givens per generated puzzle',
    default: '31-42',
  },
  limit: { type: 'string' },
  restarts: { type: 'string' },
  noise: { type: 'string' },
  'opt-steps': { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

const solveHelp = `  --checkpoint <ckpt|run-dir> model to use (EMA weights; a run directory means its newest valid checkpoint)
  --puzzles <file.csv>       RRN CSV (quiz,solution per line, 0 = blank)
  --generate <n>             or n generated puzzles (unique solutions), with --givens <lo-hi> (default 31-42)
  --limit <n>                use only the first n puzzles
  --restarts <k>             independent starts per puzzle, lowest final energy wins (default: config sample.restarts)
  --noise <scale>            reverse-process noise (DDPM posterior std per landscape × scale; 1 = reference with_noise;
                             default: config sample.noise, else 0 = deterministic); makes restarts differ
  --opt-steps <n>            gradient steps per landscape (default: config diffusion.optSteps, paper 20)
  --batch-size <n>           boards solved together (default: config sample.batchSize)
  --seed <n>                 seed of the initial noise and of generated puzzles (default 0)
  --backend <b>              tensor backend`;

async function solve(ctx: CommandContext, sample: boolean) {
  const ckptFlag = str(ctx, 'checkpoint');
  if (ckptFlag === undefined)
    throw new XError('INVALID_INPUT', '--checkpoint <ckpt|run-dir> is required');
  const { puzzles, difficulty } = puzzlesFrom(ctx);
  const noiseArg = noiseFlag(ctx);
  const backend = await sampleBackend(backendFlag(ctx.values));
  const model = await loadIredModel(resolve(ctx.cwd, ckptFlag));
  const restarts = intFlag(ctx, 'restarts', model.config.sample.restarts, 1);
  const optSteps = intFlag(ctx, 'opt-steps', model.config.diffusion.optSteps, 0);
  const noise = noiseArg ?? model.config.sample.noise ?? 0;
  const runDir = dirname(dirname(model.checkpoint));
  const outFlag = str(ctx, 'out');
  const outDir = sample
    ? outFlag === undefined
      ? join(runDir, 'samples', `step-${String(model.step).padStart(8, '0')}`)
      : resolve(ctx.cwd, outFlag)
    : undefined;
  const traj = str(ctx, 'trajectories');
  const r = await runIredSample({
    model,
    puzzles,
    difficulty,
    outDir,
    trajectoriesDir: sample && traj !== undefined ? resolve(ctx.cwd, traj) : undefined,
    restarts,
    optSteps,
    noise,
    batchSize: intFlag(ctx, 'batch-size', model.config.sample.batchSize, 1),
    seed: intFlag(ctx, 'seed', 0, 0),
    pictures: sample ? intFlag(ctx, 'pictures', 4, 0) : 0,
    quiet: ctx.quiet,
    signal: ctx.signal,
  });
  model.params.dispose();
  return {
    r,
    summary: {
      checkpoint: model.checkpoint,
      step: model.step,
      backend,
      puzzles: puzzles.length,
      ...(r.interrupted ? { interrupted: true, processed: r.processed } : {}),
      restarts,
      optSteps,
      noise,
      seconds: Number(r.seconds.toFixed(2)),
      ...r.metrics,
    },
  };
}

export const iredTrainCommand: Command = {
  path: ['ired', 'train'],
  summary: 'train the IRED Sudoku energy model (denoising on ∇E + contrastive, Adam, EMA)',
  usage: '[--preset <cpu|paper>] [train flags]',
  help: `  --preset <cpu|paper>       embedded defaults: cpu (32 channels, 2 blocks, batch 16, lr 1e-3) or paper (384, 6, batch 64, lr 1e-4)
Config keys: model.channels/blocks/kernel, diffusion.landscapes/optSteps/contrastiveWeight,
train.batchSize/learningRate/clipNorm/ema.decay, data.train.csv (RRN CSV; default generated
puzzles with data.train.minGivens..maxGivens), data.val.count/every (EMA validation), logging.*`,
  options: { ...trainFlags, preset: { type: 'string' } },
  async run(ctx) {
    const preset = str(ctx, 'preset');
    if (preset !== undefined && str(ctx, 'resume') !== undefined)
      throw new XError(
        'INVALID_INPUT',
        '--preset cannot be combined with --resume: a resumed run keeps its config',
      );
    const setup = resolveTrainSetup(ctx, 'ired', iredRunSchema, iredRunDefaults(preset));
    const r = await runIredTrain({ setup, out: ctx.out, cwd: ctx.cwd, signal: ctx.signal });
    ctx.out.line(`run directory: ${r.runDir}`);
    ctx.out.line(
      JSON.stringify({
        step: r.step,
        ...(r.interrupted ? { interrupted: true } : {}),
        digest: r.digest,
        backend: r.backend,
        ...(r.last === undefined
          ? {}
          : { loss: r.last.loss, mse: r.last.mse, contrastive: r.last.contrastive }),
        ...(r.val === undefined ? {} : { val: r.val }),
      }),
    );
    return 0;
  },
};

export const iredSampleCommand: Command = {
  path: ['ired', 'sample'],
  summary:
    'solve puzzles; write predictions, board SVGs, the energy chart and trajectory .npz files',
  usage:
    '--checkpoint <ckpt|run-dir> (--puzzles <file.csv> | --generate <n>) [--trajectories <dir>] [--restarts <k>] [--out <dir>]',
  help: `${solveHelp}
  --trajectories <dir>       write one .npz per batch and restart (states (steps, batch, 9, 9, 9), energies, step_rejected, ...)
  --out <dir>                predictions.csv, predictions.jsonl, svg/ (default <run-dir>/samples/step-XXXXXXXX)
  --pictures <n>             board SVGs to draw (default 4)`,
  options: {
    ...solveFlags,
    trajectories: { type: 'string' },
    out: { type: 'string' },
    pictures: { type: 'string' },
  },
  async run(ctx) {
    const { r, summary } = await solve(ctx, true);
    if (r.interrupted)
      ctx.out.warn(
        `interrupted after ${r.processed} of ${summary.puzzles} puzzles: no predictions written`,
      );
    for (const f of r.files) ctx.out.line(`wrote ${f}`);
    ctx.out.line(JSON.stringify(summary));
    return 0;
  },
};

export const iredEvalCommand: Command = {
  path: ['ired', 'eval'],
  summary:
    'score a model on puzzles: blank-cell accuracy, exact-board accuracy, consistency (JSON)',
  usage:
    '--checkpoint <ckpt|run-dir> (--puzzles <file.csv> | --generate <n>) [--restarts <k>] [--opt-steps <n>]',
  help: `${solveHelp}
Prints the metrics as one JSON object on the last stdout line. Every board is scored; a puzzle
without blanks counts as solved.`,
  options: { ...solveFlags },
  async run(ctx) {
    const { summary } = await solve(ctx, false);
    ctx.out.line(JSON.stringify(summary));
    return 0;
  },
};

export const iredCommands: Command[] = [iredTrainCommand, iredSampleCommand, iredEvalCommand];
