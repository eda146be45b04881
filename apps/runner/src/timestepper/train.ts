import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureState, stateDigest } from '@x/core';
import { loggingConfigSchema } from '@x/logging';
import { initBackend } from '@x/tensor';
import {
  TimestepTrainer,
  createState,
  defaultTrainConfig,
  integrate,
  learnedRule,
  trainConfigSchema,
  type EpochMetrics,
  type TrainConfig,
} from '@x/timestepper';
import { z } from 'zod';
import type { Output } from '../command.js';
import { openRunServices } from '../runServices.js';
import { runFieldsSchema, type BackendRequest } from '../runSetup.js';
import { energySvg, orbitSvg } from './pictures.js';

/** The `runner timestepper train` config: the trainer's plus the run fields. */
export const timestepperRunSchema = z.strictObject({
  ...trainConfigSchema.shape,
  ...runFieldsSchema,
  logging: loggingConfigSchema.optional(),
});
export type TimestepperRunConfig = z.output<typeof timestepperRunSchema>;

/** Embedded defaults of `runner timestepper train`. */
export const timestepperRunDefaults: TimestepperRunConfig = {
  ...defaultTrainConfig,
  seed: 0,
  steps: 40,
  saveEvery: 10,
};

/** What a finished (or interrupted) training run reports. */
export interface TrainOutcome {
  runDir: string;
  step: number;
  metrics: EpochMetrics | undefined;
  digest: string;
  pictures: string[];
  backend: string;
}

function trainConfigOf(cfg: TimestepperRunConfig): TrainConfig {
  const { seed: _s, steps: _t, saveEvery: _e, logging: _l, ...rest } = cfg;
  return rest;
}

function flat(m: EpochMetrics): Record<string, number> {
  const { epoch: _e, ...rest } = m;
  return rest;
}

/**
 * Trains for `config.steps` epochs (one step = one epoch: Part-1 collection then Part-2 replay),
 * checkpointing every `saveEvery` and at the end, resuming exactly from the newest checkpoint
 * when `resume`. Logs epoch metrics as rows and each collection step as an episode, and draws
 * the learned rule's orbit and energy error on the problem at the end.
 */
export async function runTimestepperTrain(options: {
  config: TimestepperRunConfig;
  runDir: string;
  resume: boolean;
  backend: BackendRequest;
  out: Output;
  quiet?: boolean;
  signal?: AbortSignal;
}): Promise<TrainOutcome> {
  const { config, runDir, out } = options;
  const info = await initBackend(options.backend);
  const trainer = new TimestepTrainer(trainConfigOf(config), config.seed);
  const { ckpt, logger } = await openRunServices({
    runDir,
    pipeline: 'timestepper',
    config,
    resume: options.resume,
    quiet: options.quiet,
    backend: info,
    out,
  });
  const components = { ...trainer.components(), logger };
  const restoredStep = await ckpt.resume(components);
  let step = restoredStep.step;
  let last: EpochMetrics | undefined;
  const metadata = { config: trainConfigOf(config) };
  if (step > 0) out.info(`resumed ${runDir} at step ${step}`);
  try {
    while (step < config.steps && options.signal?.aborted !== true) {
      last = trainer.epoch((i, c) =>
        logger.logEpisode({ index: i, ...c }, { step: step + 1, category: 'collect' }),
      );
      step++;
      logger.log(flat(last), { step, category: 'train' });
      if (step % Math.max(1, Math.floor(config.steps / 10)) === 0 || step === config.steps) {
        out.info(
          `step ${step}/${config.steps}: dt/τ ${last.meanDtOverTau.toFixed(4)}, accepted err ${last.meanAcceptedError.toExponential(2)}, retrains ${last.retrains}, rejects ${last.rejects}, replay pass ${(100 * last.replayPassRate).toFixed(0)}%`,
        );
      }
      if (last.capHits > 0)
        logger.notice(
          'warn',
          `step ${step}: retry cap hit for ${last.capHits} system(s); dt halved until the gate passed`,
          'timestepper',
        );
      await ckpt.maybeSave(step, components, { metrics: flat(last), metadata });
    }
    await ckpt.finish(
      step,
      components,
      last === undefined ? { metadata } : { metrics: flat(last), metadata },
    );
    const pictures = drawProblem(trainer, runDir);
    const digest = stateDigest(await captureState(trainer.components()));
    await logger.close({ exitCode: 0, preempting: options.signal?.aborted === true });
    return { runDir, step, metrics: last, digest, pictures, backend: info.name };
  } finally {
    trainer.dispose();
  }
}

function drawProblem(trainer: TimestepTrainer, runDir: string): string[] {
  const p = trainer.problem;
  const tEnd = p.name === 'kepler' ? 2 * p.period : p.name === 'plummer' ? 1 : p.period;
  const rule = learnedRule(trainer.model, trainer.config.model.historyLen, {
    symmetric: trainer.config.symmetric,
  });
  const r = integrate(createState(p.ic), rule, { tEnd, recordEvery: 1, maxForceEvals: 2e5 });
  const every = Math.max(1, Math.ceil(r.frames.length / 2000));
  const thinned = { ...r, frames: r.frames.filter((_, i) => i % every === 0) };
  const dir = join(runDir, 'svg', 'timestepper');
  mkdirSync(dir, { recursive: true });
  const orbit = join(dir, `orbit-${p.name}.svg`);
  const energy = join(dir, `energy-${p.name}.svg`);
  writeFileSync(
    orbit,
    orbitSvg(
      thinned,
      `${p.name}: learned rule, t ≤ ${tEnd.toPrecision(3)} (${r.forceEvals} force evals)`,
    ),
  );
  writeFileSync(
    energy,
    energySvg(thinned, `${p.name}: relative energy error and dt (learned rule)`),
  );
  return [orbit, energy];
}
