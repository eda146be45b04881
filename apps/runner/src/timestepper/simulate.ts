import { XError } from '@x/core';
import { TrajectoryLogger } from '@x/logging';
import {
  aarsethRule,
  adaptiveRule,
  createState,
  fixedRule,
  integrate,
  learnedRule,
  makeProblem,
  symmetricRule,
  type ProblemName,
  type StepRule,
} from '@x/timestepper';
import { loadLearnedModel } from './learned.js';

/** Step rules a simulation may use. */
export const SIM_METHODS = ['fixed', 'adaptive', 'symmetric', 'aarseth', 'learned'] as const;
export type SimMethod = (typeof SIM_METHODS)[number];

/**
 * Integrates a problem with one step rule and writes the trajectory as `.npz` through the
 * TrajectoryLogger: `states` `(frames, 2, N, 3)` (positions, velocities), `energies` (total
 * energy), `time_steps` (dt of the step into each frame), `step_rejected` (0), `meta_*`.
 */
export async function runTimestepperSimulate(o: {
  problem: ProblemName;
  method: SimMethod;
  param: number;
  tEnd?: number;
  recordEvery: number;
  checkpoint?: string;
  cwd: string;
  outFile: string;
}): Promise<{ file: string; frames: number; forceEvals: number; maxRelEnergyError: number }> {
  const problem = makeProblem(o.problem);
  const tEnd = o.tEnd ?? problem.period;
  let rule: StepRule;
  let dispose = () => {};
  switch (o.method) {
    case 'fixed':
      rule = fixedRule(o.param);
      break;
    case 'adaptive':
      rule = adaptiveRule(o.param);
      break;
    case 'symmetric':
      rule = symmetricRule(o.param);
      break;
    case 'aarseth':
      rule = aarsethRule(o.param);
      break;
    case 'learned': {
      if (o.checkpoint === undefined)
        throw new XError('INVALID_INPUT', '--method learned needs --checkpoint <ckpt|run-dir>');
      const { model, config } = await loadLearnedModel(o.checkpoint, o.cwd);
      rule = learnedRule(model, config.model.historyLen, {
        scale: o.param,
        symmetric: config.symmetric,
      });
      dispose = () => model.dispose();
      break;
    }
  }
  try {
    const r = integrate(createState(problem.ic), rule, {
      tEnd,
      recordEvery: o.recordEvery,
      maxForceEvals: 5e7,
    });
    const traj = new TrajectoryLogger();
    const id = traj.init(`${o.problem}-${o.method}`, {
      meta: {
        problem: o.problem,
        method: o.method,
        param: o.param,
        tEnd,
        forceEvals: r.forceEvals,
        maxRelEnergyError: r.maxRelEnergyError,
      },
    });
    const N = problem.ic.N;
    r.frames.forEach((f, i) => {
      const state = new Float32Array(2 * N * 3);
      state.set(f.x, 0);
      state.set(f.v, N * 3);
      traj.append(id, {
        state: { shape: [2, N, 3], dataSync: () => state },
        energy: f.energy,
        step: i,
        success: true,
        stepRejected: 0,
        timeStep: f.dt,
      });
    });
    await traj.save(id, o.outFile, { completed: r.completed });
    return {
      file: o.outFile,
      frames: r.frames.length,
      forceEvals: r.forceEvals,
      maxRelEnergyError: r.maxRelEnergyError,
    };
  } finally {
    dispose();
  }
}
