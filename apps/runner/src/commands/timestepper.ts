import { resolve } from 'node:path';
import { XError } from '@x/core';
import { PROBLEMS, parseProblem, type ProblemName } from '@x/timestepper';
import type { Command, CommandContext } from '../command.js';
import { int, optNum, positive, str as flag } from '../flags.js';
import { resolveTrainSetup, trainFlags } from '../runSetup.js';
import { pointsTable, runTimestepperBench, summaryTable } from '../timestepper/bench.js';
import { SIM_METHODS, runTimestepperSimulate, type SimMethod } from '../timestepper/simulate.js';
import {
  runTimestepperTrain,
  timestepperRunDefaults,
  timestepperRunSchema,
} from '../timestepper/train.js';

const str = (ctx: CommandContext, name: string) => flag(ctx.values, name);

function problemFlag(ctx: CommandContext, required: boolean): ProblemName | undefined {
  const raw = str(ctx, 'problem');
  if (raw === undefined) {
    if (required)
      throw new XError('INVALID_INPUT', `--problem is required: one of ${PROBLEMS.join(', ')}`);
    return undefined;
  }
  return parseProblem(raw, '--problem');
}

export const timestepperTrainCommand: Command = {
  path: ['timestepper', 'train'],
  summary: 'train the learned time-step model (energy-gated collection + rollout replay)',
  usage: '--problem <kepler|figure8|pythagorean|plummer> [train flags]',
  help: `  --problem <p>              problem whose family the model trains on (kepler, figure8, pythagorean, plummer)
One step is one epoch: part1.stepsPerEpoch accepted steps per training system (retraining on
rejects), then part2.replaySteps rollout updates on the replay buffer. Config keys: batch,
model.historyLen, model.hidden, gate.threshold, gate.maxRetries, loss.eLower/eUpper, symmetric, ...`,
  options: { ...trainFlags, problem: { type: 'string' } },
  async run(ctx) {
    const resuming = str(ctx, 'resume') !== undefined;
    const problem = problemFlag(ctx, !resuming);
    const values = { ...ctx.values };
    if (problem !== undefined && !resuming)
      values['set'] = [
        ...((ctx.values['set'] as string[] | undefined) ?? []),
        `problem=${problem}`,
      ];
    const setup = resolveTrainSetup(
      { ...ctx, values },
      'timestepper',
      timestepperRunSchema,
      timestepperRunDefaults,
    );
    if (problem !== undefined && setup.config.problem !== problem) {
      setup.lock.release();
      throw new XError(
        'INVALID_INPUT',
        `--problem ${problem}: the resumed run in ${setup.runDir} trains on ${setup.config.problem}`,
      );
    }
    const r = await runTimestepperTrain({ setup, out: ctx.out, signal: ctx.signal });
    ctx.out.line(`run directory: ${r.runDir}`);
    for (const p of r.pictures) ctx.out.line(`picture: ${p}`);
    ctx.out.line(
      JSON.stringify({
        step: r.step,
        ...(r.interrupted ? { interrupted: true } : {}),
        digest: r.digest,
        backend: r.backend,
        ...(r.metrics ?? {}),
      }),
    );
    return 0;
  },
};

export const timestepperBenchCommand: Command = {
  path: ['timestepper', 'bench'],
  summary: 'compare time-step methods: force evaluations vs max relative energy error (JSON + SVG)',
  usage:
    '--problem <p> [--checkpoint <ckpt|run-dir>] --out <file.json> [--tend <t>] [--points <n>]',
  help: `  --problem <p>              kepler | figure8 | pythagorean | plummer
  --checkpoint <ckpt|run-dir> add the learned rule (its dt multiplier swept over the symmetric rule's η values / the model's η0)
  --out <file.json>          benchmark JSON; the SVG plot is written beside it (<file>.svg)
  --tend <t>                 end time (default: the reference horizon: kepler 100 orbits, figure8 10 T, pythagorean 70, plummer 10)
  --points <n>               parameter values per method (default 6)
  --learned-min <s>          instead sweep the learned dt multiplier over 2^(1/2) ... <s>, log-spaced
  --max-force-evals <n>      budget per integration (default 2e7; runs that hit it are marked completed: false)`,
  options: {
    problem: { type: 'string' },
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    tend: { type: 'string' },
    points: { type: 'string' },
    'max-force-evals': { type: 'string' },
    'learned-min': { type: 'string' },
    backend: { type: 'string' },
  },
  async run(ctx) {
    const problem = problemFlag(ctx, true) as ProblemName;
    const outFlag = str(ctx, 'out');
    if (outFlag === undefined) throw new XError('INVALID_INPUT', '--out <file.json> is required');
    const learnedMin = optNum(ctx.values, 'learned-min', (n) => n > 0, 'a positive number');
    const tEnd = optNum(ctx.values, 'tend', (n) => n > 0, 'a positive number');
    const r = await runTimestepperBench({
      problem,
      outFile: resolve(ctx.cwd, outFlag),
      ...(str(ctx, 'checkpoint') === undefined ? {} : { checkpoint: str(ctx, 'checkpoint') }),
      cwd: ctx.cwd,
      ...(tEnd === undefined ? {} : { tEnd }),
      ...(learnedMin === undefined ? {} : { learnedMin }),
      points:
        optNum(
          ctx.values,
          'points',
          (n) => Number.isInteger(n) && n >= 1 && n <= 40,
          'an integer 1..40',
        ) ?? 6,
      maxForceEvals: optNum(ctx.values, 'max-force-evals', (n) => n >= 10, 'a number >= 10') ?? 2e7,
      out: ctx.out,
      quiet: ctx.quiet,
      signal: ctx.signal,
    });
    if (r.interrupted) return 0;
    for (const l of [...pointsTable(r.report), '', ...summaryTable(r.report)]) ctx.out.line(l);
    ctx.out.line(`bench json: ${r.json}`);
    ctx.out.line(`bench svg: ${r.svg}`);
    return 0;
  },
};

export const timestepperSimulateCommand: Command = {
  path: ['timestepper', 'simulate'],
  summary: 'integrate a problem with one step rule and write the trajectory as .npz',
  usage:
    '--problem <p> --method <fixed|adaptive|symmetric|aarseth|learned> --param <x> --out <file.npz> [--checkpoint <ckpt|run-dir>] [--tend <t>] [--record-every <k>]',
  help: `  --problem <p>              kepler | figure8 | pythagorean | plummer
  --method <m>               fixed (param: dt) | adaptive, symmetric, aarseth (param: η) | learned (param: dt multiplier, needs --checkpoint)
  --param <x>                the method's parameter (default: dt 1e-3, η 0.02, multiplier 1)
  --out <file.npz>           trajectory file
  --checkpoint <ckpt|run-dir> model of --method learned (a run directory means its newest valid checkpoint)
  --tend <t>                 end time (default one period of the problem)
  --record-every <k>         store every k-th step (default 1)`,
  options: {
    problem: { type: 'string' },
    method: { type: 'string' },
    param: { type: 'string' },
    out: { type: 'string' },
    checkpoint: { type: 'string' },
    tend: { type: 'string' },
    'record-every': { type: 'string' },
    backend: { type: 'string' },
  },
  async run(ctx) {
    const problem = problemFlag(ctx, true) as ProblemName;
    const method = str(ctx, 'method') ?? 'symmetric';
    if (!(SIM_METHODS as readonly string[]).includes(method))
      throw new XError(
        'INVALID_INPUT',
        `--method: expected one of ${SIM_METHODS.join(', ')}, got '${method}'`,
      );
    const outFlag = str(ctx, 'out');
    if (outFlag === undefined) throw new XError('INVALID_INPUT', '--out <file.npz> is required');
    const tEnd = optNum(ctx.values, 'tend', (n) => n > 0, 'a positive number');
    const r = await runTimestepperSimulate({
      problem,
      method: method as SimMethod,
      param: positive(
        ctx.values,
        'param',
        method === 'learned' ? 1 : method === 'fixed' ? 1e-3 : 0.02,
      ),
      ...(tEnd === undefined ? {} : { tEnd }),
      recordEvery: int(ctx.values, 'record-every', 1, 1),
      ...(str(ctx, 'checkpoint') === undefined ? {} : { checkpoint: str(ctx, 'checkpoint') }),
      cwd: ctx.cwd,
      outFile: resolve(ctx.cwd, outFlag),
    });
    ctx.out.line(
      `trajectory: ${r.file} (${r.frames} frames, ${r.forceEvals} force evals, max |ΔE/E0| ${r.maxRelEnergyError.toExponential(2)})`,
    );
    return 0;
  },
};

/** The timestepper pipeline's commands. */
export const timestepperCommands: Command[] = [
  timestepperTrainCommand,
  timestepperBenchCommand,
  timestepperSimulateCommand,
];
