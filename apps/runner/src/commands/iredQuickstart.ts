import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@x/core';
import { generatePuzzles, SATNET_GIVENS, writeRrnCsv } from '@x/ired';
import { parseLoggingConfig } from '@x/logging';
import { iredRunDefaults, iredRunSchema } from '../ired/config.js';
import { loadIredModel, runIredSample } from '../ired/sample.js';
import { runIredTrain } from '../ired/train.js';
import { quickstartSteps, type QuickstartStep } from '../quickstart.js';
import { writeConfig } from '../runSetup.js';

/** `runner quickstart` step: a ~1 minute IRED training run, then sampling with trajectories and evaluation. */
export const iredQuickstartStep: QuickstartStep = {
  name: 'ired',
  async run(ctx) {
    const dir = join(ctx.outRoot, 'ired');
    const runDir = join(dir, 'run');
    const defaults = iredRunDefaults('cpu') as Record<string, Record<string, unknown>>;
    const config = iredRunSchema.parse({
      ...defaults,
      steps: 400,
      saveEvery: 100,
      model: { ...defaults['model'], channels: 32, blocks: 1 },
      train: { ...defaults['train'], batchSize: 16 },
      diffusion: { ...defaults['diffusion'], optSteps: 5 },
      sample: { restarts: 2, batchSize: 8 },
      logging: parseLoggingConfig({}),
    });
    mkdirSync(runDir, { recursive: true });
    writeConfig(runDir, 'ired', config);
    const r = await runIredTrain({
      config,
      runDir,
      resume: false,
      backend: ctx.backend,
      out: ctx.out,
      cwd: dir,
      quiet: true,
    });
    const puzzles = generatePuzzles(Rng.fromSeed(1).stream('quickstart'), 16, SATNET_GIVENS);
    const csv = join(dir, 'puzzles.csv');
    writeRrnCsv(csv, puzzles);
    const model = await loadIredModel(runDir);
    const sampleDir = join(dir, 'samples');
    const trajDir = join(runDir, 'trajectories');
    const s = await runIredSample({
      model,
      puzzles,
      difficulty: 'generated 31-42 givens',
      outDir: sampleDir,
      trajectoriesDir: trajDir,
      restarts: 2,
      optSteps: 5,
      batchSize: 8,
      seed: 0,
      pictures: 2,
      out: ctx.out,
    });
    model.params.dispose();
    const m = s.metrics;
    return [
      `ired run (${r.step} steps, ${r.backend}): ${runDir}`,
      `ired puzzles (RRN CSV): ${csv}`,
      `ired predictions + board/energy SVGs: ${sampleDir}`,
      `ired trajectories (.npz): ${trajDir}`,
      `ired eval on ${m.boards} puzzles: blank-cell accuracy ${(100 * m.blankCellAccuracy).toFixed(1)}%, boards solved ${(100 * m.boardAccuracy).toFixed(1)}%, consistent ${(100 * m.consistency).toFixed(1)}% (a tiny model trained for a minute)`,
    ];
  },
};

quickstartSteps.push(iredQuickstartStep);
