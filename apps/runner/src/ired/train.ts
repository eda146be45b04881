import { isAbsolute, resolve } from 'node:path';
import { Rng, XError } from '@x/core';
import {
  evaluateBoards,
  generatePuzzles,
  IredTrainer,
  parameterCount,
  readRrnCsv,
  sampleBoards,
  type StepMetrics,
  type SudokuMetrics,
} from '@x/ired';
import type { ExperimentLogger } from '@x/logging';
import { initBackend } from '@x/tensor';
import type { Output } from '../command.js';
import type { TrainSetup } from '../runSetup.js';
import { runTrainLoop, type TrainPipeline } from '../trainLoop.js';
import { type IredRunConfig, iredPart } from './config.js';
import { boardSvg } from './svg.js';

/** What a finished (or interrupted) `ired train` run reports. */
export interface IredTrainOutcome {
  runDir: string;
  step: number;
  /** State digest of the training components (model, optimizer, ema, data, counters). */
  digest: string;
  backend: string;
  last: StepMetrics | undefined;
  val: SudokuMetrics | undefined;
  interrupted: boolean;
}

async function trainStep(
  trainer: IredTrainer,
  backend: string,
  config: IredRunConfig,
  step: number,
): Promise<StepMetrics> {
  try {
    // Promise.resolve: the trainer's step is synchronous or asynchronous depending on the backend API.
    return await Promise.resolve(trainer.trainStep());
  } catch (err) {
    if (backend === 'wasm' && /Aborted|memory access out of bounds/.test((err as Error).message)) {
      throw new XError(
        'ENVIRONMENT',
        `training step ${step} ran out of the wasm backend's 2 GB heap (model ${(parameterCount(config.model) / 1e6).toFixed(1)}M parameters, batch ${config.train.batchSize}, double backprop); use a smaller model.channels / model.blocks / train.batchSize or the tensorflow backend (@tensorflow/tfjs-node)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Trains the Sudoku energy model for `config.steps` steps on the shared train loop (checkpoint
 * policy, resume, signals within a step). Logs the loss terms every step and, every
 * `data.val.every` steps, the EMA model's validation metrics and a board picture.
 */
export async function runIredTrain(options: {
  setup: Pick<
    TrainSetup<IredRunConfig>,
    'config' | 'runDir' | 'resume' | 'quiet' | 'lock' | 'provenance' | 'backend' | 'threads'
  >;
  out: Output;
  cwd: string;
  signal?: AbortSignal | undefined;
}): Promise<IredTrainOutcome> {
  const { config, runDir } = options.setup;
  const info = await initBackend({
    backend: options.setup.backend,
    threads: options.setup.threads,
  });
  const ired = iredPart(config);
  let last: StepMetrics | undefined;
  let val: SudokuMetrics | undefined;
  const build = (): TrainPipeline => {
    const csv = ired.data.train.csv;
    const puzzles =
      csv === null ? undefined : readRrnCsv(isAbsolute(csv) ? csv : resolve(options.cwd, csv));
    const t = new IredTrainer({
      config: ired,
      seed: config.seed,
      ...(puzzles === undefined ? {} : { puzzles }),
    });
    const v = ired.data.val;
    const valPuzzles =
      v.count > 0 && v.every > 0
        ? generatePuzzles(Rng.fromSeed(config.seed).stream('val'), v.count, v)
        : [];
    let registered = false;
    const validate = async (logger: ExperimentLogger, step: number) => {
      const quizzes = valPuzzles.map((p) => p.quiz);
      const r = await Promise.resolve(
        t.withEmaWeights((p) =>
          sampleBoards(p, quizzes, {
            model: ired.model,
            schedule: t.schedule,
            optSteps: ired.diffusion.optSteps,
            restarts: v.restarts,
            rng: Rng.fromSeed(config.seed).stream('val-sample'),
          }),
        ),
      );
      val = evaluateBoards(
        quizzes,
        valPuzzles.map((p) => p.solution),
        r.predictions,
      ).metrics;
      logger.log({ ...val }, { step, category: 'eval' });
      const b0 = valPuzzles[0];
      if (b0 !== undefined)
        logger.picture(
          'sudoku',
          {
            quiz: b0.quiz,
            prediction: r.predictions[0],
            solution: b0.solution,
            title: `validation board 0, step ${step}`,
          },
          { step, category: 'eval', name: 'board0' },
        );
    };
    return {
      components: t.components(),
      metadata: { config: ired },
      async step(step, logger) {
        if (!registered) {
          registered = true;
          logger.registerRenderer('sudoku', (d) => {
            const b = d as {
              quiz: Uint8Array;
              prediction: Uint8Array;
              solution: Uint8Array;
              title: string;
            };
            return boardSvg(b.quiz, b.prediction, b.solution, b.title);
          });
        }
        const t0 = performance.now();
        last = await trainStep(t, info.name, config, step);
        const { step: _s, ...metrics } = last;
        logger.log({ ...metrics, stepSeconds: (performance.now() - t0) / 1000 }, { step });
        if (valPuzzles.length > 0 && step % v.every === 0) await validate(logger, step);
        const saved: Record<string, number> = { ...metrics };
        const evalMetrics: Record<string, number> = { ...(val ?? {}) };
        for (const [k, x] of Object.entries(evalMetrics)) saved[`eval/${k}`] = x;
        return saved;
      },
      dispose: () => t.dispose(),
    };
  };
  const r = await runTrainLoop({
    setup: options.setup,
    pipeline: 'ired',
    backend: info,
    out: options.out,
    signal: options.signal,
    build,
  });
  return {
    runDir,
    step: r.step,
    digest: r.digest,
    backend: info.name,
    last,
    val,
    interrupted: r.interrupted,
  };
}
