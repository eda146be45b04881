import { join } from 'node:path';
import { cheapestWithin, defaultWorkPrecision, makeProblem } from '@x/timestepper';
import type { QuickstartStep } from '../quickstart.js';
import { bySchema, resolveRunConfig } from '../resolveConfig.js';
import { prepareRunDir } from '../runSetup.js';
import { BENCH_TOLERANCE, runTimestepperBench, summaryTable } from '../timestepper/bench.js';
import { runTimestepperSimulate } from '../timestepper/simulate.js';
import {
  runTimestepperTrain,
  timestepperRunDefaults,
  timestepperRunSchema,
} from '../timestepper/train.js';

/**
 * `runner quickstart` step: a short kepler training run (work–precision objective), a small
 * benchmark and a trajectory.
 */
export const timestepperQuickstartStep: QuickstartStep = {
  name: 'timestepper',
  async run(ctx) {
    const dir = join(ctx.outRoot, 'timestepper');
    const runDir = join(dir, 'run');
    const { config } = resolveRunConfig({
      validate: bySchema(timestepperRunSchema),
      // The time-symmetric learned rule trained on the work–precision objective: it starts as the
      // symmetric rule and the benchmark sweeps it over the symmetric rule's η range.
      defaults: {
        ...timestepperRunDefaults,
        problem: 'kepler',
        steps: 12,
        saveEvery: 6,
        symmetric: true,
        model: { ...timestepperRunDefaults.model, eta0: 0.03 },
        optimizer: { ...timestepperRunDefaults.optimizer, learningRate: 5e-4 },
        workPrecision: { ...defaultWorkPrecision, maxSteps: 256, doubleEvery: 4 },
      },
      values: {},
      cwd: dir,
    });
    const prepared = prepareRunDir(runDir, 'timestepper', config, ctx.backend, false);
    const r = await runTimestepperTrain({
      setup: { config, runDir, resume: false, quiet: ctx.quiet, backend: ctx.backend, ...prepared },
      out: ctx.out,
      signal: ctx.signal,
    });
    const outputs = [`timestepper run (kepler, ${r.step} epochs): ${runDir}`];
    if (r.interrupted)
      return { outputs, findings: [`timestepper: interrupted at epoch ${r.step}`] };
    const kepler = makeProblem('kepler');
    const bench = await runTimestepperBench({
      problem: 'kepler',
      outFile: join(dir, 'bench-kepler.json'),
      checkpoint: runDir,
      cwd: ctx.outRoot,
      tEnd: 10 * kepler.period,
      points: 4,
      maxForceEvals: 2e6,
      out: ctx.out,
      quiet: ctx.quiet,
      signal: ctx.signal,
    });
    if (bench.interrupted)
      return { outputs, findings: ['timestepper: interrupted during the benchmark'] };
    const traj = await runTimestepperSimulate({
      problem: 'kepler',
      method: 'learned',
      param: 1,
      tEnd: kepler.period,
      recordEvery: 1,
      checkpoint: runDir,
      cwd: ctx.outRoot,
      outFile: join(runDir, 'trajectories', 'kepler-learned.npz'),
    });
    outputs.push(
      `timestepper benchmark (kepler, 10 orbits): ${bench.json} + ${bench.svg}`,
      `timestepper trajectory (.npz): ${traj.file}`,
      ...r.pictures.map((p) => `timestepper picture: ${p}`),
    );
    const within = bench.report.methods.filter(
      (m) => cheapestWithin(m, BENCH_TOLERANCE) !== undefined,
    );
    return {
      outputs,
      findings: [
        `timestepper: kepler, 10 orbits: ${within.length} of ${bench.report.methods.length} methods reach max |ΔE/E0| ≤ ${BENCH_TOLERANCE.toExponential(0)} within the sweep`,
        ...summaryTable(bench.report).map((l) => `timestepper: ${l}`),
      ],
    };
  },
};
