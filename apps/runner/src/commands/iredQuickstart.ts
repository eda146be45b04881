import { join } from 'node:path';
import { Rng } from '@x/core';
import { generatePuzzles, SATNET_GIVENS, writeRrnCsv } from '@x/ired';
import { iredRunDefaults, iredRunSchema } from '../ired/config.js';
import { loadIredModel, runIredSample } from '../ired/sample.js';
import { runIredTrain } from '../ired/train.js';
import type { QuickstartStep } from '../quickstart.js';
import { bySchema, resolveRunConfig } from '../resolveConfig.js';
import { prepareRunDir } from '../runSetup.js';

/** The quickstart's IRED run: the cpu preset made smaller, 400 steps. */
function quickstartDefaults(): Record<string, unknown> {
  const d = iredRunDefaults('cpu') as Record<string, Record<string, unknown>>;
  return {
    ...d,
    steps: 400,
    saveEvery: 100,
    model: { ...d['model'], channels: 32, blocks: 1 },
    train: { ...d['train'], batchSize: 16 },
    diffusion: { ...d['diffusion'], optSteps: 5 },
    sample: { restarts: 2, batchSize: 8 },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** `runner quickstart` step: a ~1 minute IRED training run, then sampling with trajectories and evaluation. */
export const iredQuickstartStep: QuickstartStep = {
  name: 'ired',
  async run(ctx) {
    const dir = join(ctx.outRoot, 'ired');
    const runDir = join(dir, 'run');
    const { config } = resolveRunConfig({
      validate: bySchema(iredRunSchema),
      defaults: quickstartDefaults(),
      values: {},
      cwd: dir,
    });
    const prepared = prepareRunDir(runDir, 'ired', config, ctx.backend, false);
    const r = await runIredTrain({
      setup: { config, runDir, resume: false, quiet: ctx.quiet, backend: ctx.backend, ...prepared },
      out: ctx.out,
      cwd: dir,
      signal: ctx.signal,
    });
    const outputs = [`ired run (${r.step} steps, ${r.backend}): ${runDir}`];
    if (r.interrupted) return { outputs, findings: [`ired: interrupted at step ${r.step}`] };
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
      quiet: ctx.quiet,
      signal: ctx.signal,
    });
    model.params.dispose();
    const m = s.metrics;
    const exact = s.boards.filter((b) => b.exact).length;
    outputs.push(
      `ired puzzles (RRN CSV): ${csv}`,
      `ired predictions + board/energy SVGs: ${sampleDir}`,
      `ired trajectories (.npz): ${trajDir}`,
    );
    return {
      outputs,
      findings: [
        `ired: ${m.boards} puzzles attempted (${SATNET_GIVENS.minGivens}-${SATNET_GIVENS.maxGivens} givens), ${exact}/${m.boards} boards fully solved (${pct(m.boardAccuracy)}), ${m.boards - exact} not solved`,
        `ired: blank cells filled correctly ${pct(m.blankCellAccuracy)} (chance 11.1%), boards without a rule violation ${pct(m.consistency)}`,
        `ired: why: a 32-channel, 1-block model trained ${r.step} steps is a smoke test of the pipeline, not a solver; solving boards takes the paper's model (--preset paper: 384 channels, 6 blocks) trained far longer`,
      ],
    };
  },
};
