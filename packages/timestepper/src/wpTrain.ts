import { XError, type Rng } from '@x/core';
import type { Adam } from '@x/tensor';
import type { TrainConfig } from './config.js';
import type { DtModel } from './model.js';
import type { InitialConditions } from './nbody.js';
import { randomSystem } from './problems.js';
import { workPrecisionRollout } from './wpRollout.js';

/** Metrics of one work–precision epoch. */
export interface WorkPrecisionEpochMetrics {
  /** Mean objective J (log steps per unit time at the tolerance) over finite rollouts. */
  wpObjective: number;
  /** Mean over rollouts of log10 max |ΔE/E0|. */
  wpLogMaxRel: number;
  /** Rollout length (steps) this epoch. */
  wpSteps: number;
  /** Rollouts whose energy error became non-finite (no gradient from them). */
  wpDiverged: number;
  wpUpdates: number;
}

/** Rollout length of an epoch: `startSteps · 2^⌊epoch / doubleEvery⌋`, at most `maxSteps`. */
export function curriculumSteps(
  wp: NonNullable<TrainConfig['workPrecision']>,
  epoch: number,
): number {
  return Math.min(wp.maxSteps, wp.startSteps * 2 ** Math.floor(epoch / wp.doubleEvery));
}

/**
 * One epoch of work–precision training: `updatesPerEpoch` optimizer steps, each on the mean
 * objective of `systems` fresh random systems of the family drawn from the seeded stream
 * `wp/<epoch>/<update>/<i>` (never the benchmark's initial conditions), each rolled out for
 * the curriculum's number of steps.
 */
export async function workPrecisionEpoch(
  model: DtModel,
  optimizer: Adam,
  root: Rng,
  config: TrainConfig,
  problemIC: InitialConditions,
  epoch: number,
): Promise<WorkPrecisionEpochMetrics> {
  const wp = config.workPrecision;
  if (wp === null)
    throw new XError('INVALID_CONFIG', 'workPrecisionEpoch: config.workPrecision is null');
  const steps = curriculumSteps(wp, epoch);
  const m: WorkPrecisionEpochMetrics = {
    wpObjective: 0,
    wpLogMaxRel: 0,
    wpSteps: steps,
    wpDiverged: 0,
    wpUpdates: 0,
  };
  let finite = 0;
  for (let u = 0; u < wp.updatesPerEpoch; u++) {
    const inputs: Float64Array[] = [];
    const coeffs: number[] = [];
    for (let i = 0; i < wp.systems; i++) {
      const ic = randomSystem(
        config.problem,
        root.stream('wp', epoch, u, i),
        config.plummerN,
        config.family,
      );
      const r = workPrecisionRollout(
        model,
        { ...ic, eps: problemIC.eps },
        {
          steps,
          historyLen: config.model.historyLen,
          symmetric: config.symmetric,
          tolerance: wp.tolerance,
          power: wp.power,
          order: 2,
          window: wp.window,
        },
      );
      if (!Number.isFinite(r.objective)) {
        m.wpDiverged++;
        continue;
      }
      finite++;
      m.wpObjective += r.objective;
      m.wpLogMaxRel += Math.log10(r.maxRel + 1e-300);
      inputs.push(...r.inputs);
      coeffs.push(...r.coeffs.map((c) => c / wp.systems));
    }
    await model.update(optimizer, inputs, coeffs);
    m.wpUpdates++;
  }
  if (finite > 0) {
    m.wpObjective /= finite;
    m.wpLogMaxRel /= finite;
  }
  return m;
}
