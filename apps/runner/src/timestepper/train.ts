import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
import type { z } from 'zod';
import { writeFileAtomic } from '../atomicWrite.js';
import type { Output } from '../command.js';
import { composeRunSchema, runLoggingSchema } from '../resolveConfig.js';
import { runFieldsSchema, type TrainSetup } from '../runSetup.js';
import { runTrainLoop } from '../trainLoop.js';
import { energySvg, orbitSvg } from './pictures.js';

/** The `runner timestepper train` config: the trainer's plus the run fields. */
export const timestepperRunSchema = composeRunSchema(
  { ...runFieldsSchema, logging: runLoggingSchema.optional() },
  [trainConfigSchema],
);
export type TimestepperRunConfig = z.output<typeof timestepperRunSchema>;

/** Embedded defaults of `runner timestepper train`. */
export const timestepperRunDefaults = {
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
  interrupted: boolean;
}

function trainConfigOf(cfg: TimestepperRunConfig): TrainConfig {
  const { seed: _s, steps: _t, saveEvery: _e, logging: _l, checkpoint: _c, ...rest } = cfg;
  return rest;
}

function flat(m: EpochMetrics): Record<string, number> {
  const { epoch: _e, wp, ...rest } = m;
  return { ...rest, ...(wp ?? {}) };
}

/**
 * Trains for `config.steps` epochs (one step = one epoch: Part-1 collection then Part-2 replay)
 * on the shared train loop (checkpoint policy, resume, signals within a step). Logs epoch
 * metrics as rows and each collection step as an episode, and draws the learned rule's orbit
 * and energy error on the problem at the end.
 */
export async function runTimestepperTrain(options: {
  setup: Pick<
    TrainSetup<TimestepperRunConfig>,
    'config' | 'runDir' | 'resume' | 'quiet' | 'lock' | 'provenance' | 'backend' | 'threads'
  >;
  out: Output;
  signal?: AbortSignal | undefined;
}): Promise<TrainOutcome> {
  const { config, runDir } = options.setup;
  const info = await initBackend({
    backend: options.setup.backend,
    threads: options.setup.threads,
  });
  let last: EpochMetrics | undefined;
  const r = await runTrainLoop({
    setup: options.setup,
    pipeline: 'timestepper',
    backend: info,
    out: options.out,
    signal: options.signal,
    build: () => {
      const trainer = new TimestepTrainer(trainConfigOf(config), config.seed);
      return {
        components: trainer.components(),
        metadata: { config: trainConfigOf(config) },
        async step(step, logger) {
          // Promise.resolve: an epoch is synchronous or asynchronous depending on the backend API.
          const m = await Promise.resolve(
            trainer.epoch((i, c) =>
              logger.logEpisode({ index: i, ...c }, { step, category: 'collect' }),
            ),
          );
          last = m;
          logger.log(flat(m), { step, category: 'train' });
          if (m.capHits > 0)
            logger.notice(
              'warn',
              `step ${step}: retry cap hit for ${m.capHits} system(s); dt halved until the gate passed`,
              'timestepper',
            );
          return flat(m);
        },
        finish: () => drawProblem(trainer, runDir),
        dispose: () => trainer.dispose(),
      };
    },
  });
  return {
    runDir,
    step: r.step,
    metrics: last,
    digest: r.digest,
    pictures: r.outputs,
    backend: info.name,
    interrupted: r.interrupted,
  };
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
  writeFileAtomic(
    orbit,
    orbitSvg(
      thinned,
      `${p.name}: learned rule, t ≤ ${tEnd.toPrecision(3)} (${r.forceEvals} force evals)`,
    ),
  );
  writeFileAtomic(
    energy,
    energySvg(thinned, `${p.name}: relative energy error and dt (learned rule)`),
  );
  return [orbit, energy];
}
