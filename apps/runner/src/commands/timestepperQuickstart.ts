import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeProblem } from '@x/timestepper';
import { quickstartSteps, type QuickstartStep } from '../quickstart.js';
import { writeConfig } from '../runSetup.js';
import { runTimestepperBench } from '../timestepper/bench.js';
import { runTimestepperSimulate } from '../timestepper/simulate.js';
import { runTimestepperTrain, timestepperRunDefaults } from '../timestepper/train.js';

/** `runner quickstart` step: a short kepler training run, a small benchmark and a trajectory. */
export const timestepperQuickstartStep: QuickstartStep = {
  name: 'timestepper',
  async run(ctx) {
    const dir = join(ctx.outRoot, 'timestepper');
    const runDir = join(dir, 'run');
    const config = {
      ...timestepperRunDefaults,
      problem: 'kepler' as const,
      steps: 12,
      saveEvery: 6,
    };
    mkdirSync(runDir, { recursive: true });
    writeConfig(runDir, 'timestepper', config);
    const r = await runTimestepperTrain({
      config,
      runDir,
      resume: false,
      backend: ctx.backend,
      out: ctx.out,
      quiet: true,
    });
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
    });
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
    return [
      `timestepper run (kepler, ${r.step} epochs): ${runDir}`,
      `timestepper benchmark (kepler, 10 orbits): ${bench.json} + ${bench.svg}`,
      `timestepper trajectory (.npz): ${traj.file}`,
      ...r.pictures.map((p) => `timestepper picture: ${p}`),
    ];
  },
};

quickstartSteps.push(timestepperQuickstartStep);
