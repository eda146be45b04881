import { isAbsolute, resolve } from 'node:path';
import { captureState, Rng, stateDigest, XError } from '@x/core';
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
import { initBackend } from '@x/tensor';
import type { Output } from '../command.js';
import { openRunServices } from '../runServices.js';
import type { BackendRequest } from '../runSetup.js';
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
}

/**
 * Trains the Sudoku energy model for `config.steps` steps with checkpoints every `saveEvery`
 * (and at the end), resuming exactly from the newest valid checkpoint when `resume`. Logs the
 * loss terms every step and, every `data.val.every` steps, the EMA model's validation metrics
 * and a board picture.
 */
export async function runIredTrain(options: {
  config: IredRunConfig;
  runDir: string;
  resume: boolean;
  backend: BackendRequest;
  out: Output;
  cwd: string;
  quiet?: boolean;
  signal?: AbortSignal;
}): Promise<IredTrainOutcome> {
  const { config, runDir, out } = options;
  const info = await initBackend(options.backend);
  const ired = iredPart(config);
  const csv = ired.data.train.csv;
  const puzzles =
    csv === null ? undefined : readRrnCsv(isAbsolute(csv) ? csv : resolve(options.cwd, csv));
  const trainer = new IredTrainer({
    config: ired,
    seed: config.seed,
    ...(puzzles === undefined ? {} : { puzzles }),
  });
  const { ckpt, logger } = await openRunServices({
    runDir,
    pipeline: 'ired',
    config,
    resume: options.resume,
    quiet: options.quiet,
    backend: info,
    out,
  });
  logger.registerRenderer('sudoku', (d) => {
    const b = d as {
      quiz: Uint8Array;
      prediction: Uint8Array;
      solution: Uint8Array;
      title: string;
    };
    return boardSvg(b.quiz, b.prediction, b.solution, b.title);
  });
  const components = { ...trainer.components(), logger };
  let step = (await ckpt.resume(components)).step;
  if (step > 0) out.info(`resumed ${runDir} at step ${step}`);
  const metadata = { config: ired, seed: config.seed };
  const v = ired.data.val;
  const valPuzzles =
    v.count > 0 && v.every > 0
      ? generatePuzzles(Rng.fromSeed(config.seed).stream('val'), v.count, v)
      : [];
  let last: StepMetrics | undefined;
  let val: SudokuMetrics | undefined;
  const started = performance.now();
  try {
    while (step < config.steps && options.signal?.aborted !== true) {
      const t0 = performance.now();
      try {
        last = trainer.trainStep();
      } catch (err) {
        if (
          info.name === 'wasm' &&
          /Aborted|memory access out of bounds/.test((err as Error).message)
        ) {
          throw new XError(
            'ENVIRONMENT',
            `training step ${step + 1} ran out of the wasm backend's 2 GB heap (model ${(parameterCount(ired.model) / 1e6).toFixed(1)}M parameters, batch ${ired.train.batchSize}, double backprop); use a smaller model.channels / model.blocks / train.batchSize or the tensorflow backend (@tensorflow/tfjs-node)`,
            { cause: err },
          );
        }
        throw err;
      }
      step = last.step;
      const { step: _s, ...metrics } = last;
      logger.log({ ...metrics, stepSeconds: (performance.now() - t0) / 1000 }, { step });
      if (valPuzzles.length > 0 && step % v.every === 0) {
        const quizzes = valPuzzles.map((p) => p.quiz);
        const r = trainer.withEmaWeights((p) =>
          sampleBoards(p, quizzes, {
            model: ired.model,
            schedule: trainer.schedule,
            optSteps: ired.diffusion.optSteps,
            restarts: v.restarts,
            rng: Rng.fromSeed(config.seed).stream('val-sample'),
          }),
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
      }
      const every = Math.max(1, Math.floor(config.steps / 20));
      if (step % every === 0 || step === config.steps) {
        const rate = (performance.now() - started) / 1000;
        out.info(
          `step ${step}/${config.steps}: loss ${last.loss.toFixed(4)} (mse ${last.mse.toFixed(4)}, contrastive ${last.contrastive.toFixed(4)}), grad norm ${last.gradNorm.toFixed(3)}, ${rate.toFixed(0)} s`,
        );
      }
      await ckpt.maybeSave(step, components, { metrics: { loss: last.loss }, metadata });
    }
    await ckpt.finish(
      step,
      components,
      last === undefined ? { metadata } : { metrics: { loss: last.loss }, metadata },
    );
    const digest = stateDigest(await captureState(trainer.components()));
    await logger.close({ exitCode: 0, preempting: options.signal?.aborted === true });
    return { runDir, step, digest, backend: info.name, last, val };
  } finally {
    trainer.dispose();
  }
}
