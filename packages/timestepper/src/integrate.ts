import { XError } from '@x/core';
import { cloneNBody, leapfrogStep, totalEnergy, type NBodyState } from './nbody.js';
import type { StepRule } from './stepRules.js';

/** Options of {@link integrate}. */
export interface IntegrateOptions {
  tEnd: number;
  /** Stop early (marking the run incomplete) after this many force evaluations. */
  maxForceEvals?: number;
  /** Record positions every this many steps (0: never). */
  recordEvery?: number;
}

/** Outcome of integrating one system to `tEnd`. */
export interface IntegrateResult {
  steps: number;
  forceEvals: number;
  maxRelEnergyError: number;
  finalRelEnergyError: number;
  wallSeconds: number;
  /** False when the force-evaluation budget ran out before `tEnd`. */
  completed: boolean;
  /** Recorded frames: time, positions `[N, 3]`, relative energy error, step size. */
  frames: {
    t: number;
    x: Float64Array;
    v: Float64Array;
    energy: number;
    relEnergyError: number;
    dt: number;
  }[];
}

/**
 * Integrates system 0 of a copy of `initial` with KDK leapfrog to `tEnd` under a step rule,
 * checking the relative energy error `|E − E0| / |E0|` after every step (the last step is
 * shortened to land on `tEnd`). Counts force evaluations from the first (initial) evaluation.
 */
export function integrate(
  initial: NBodyState,
  rule: StepRule,
  options: IntegrateOptions,
): IntegrateResult {
  const s = cloneNBody(initial);
  const E0 = totalEnergy(s, 0);
  const scale = Math.abs(E0);
  if (!(scale > 0))
    throw new XError(
      'INVALID_CONFIG',
      'integrate: initial energy is zero; relative errors are undefined',
    );
  const start = performance.now();
  const budget = options.maxForceEvals ?? Infinity;
  const every = options.recordEvery ?? 0;
  const frames: IntegrateResult['frames'] = [];
  const n3 = s.N * 3;
  if (every > 0)
    frames.push({
      t: 0,
      x: s.x.slice(0, n3),
      v: s.v.slice(0, n3),
      energy: E0,
      relEnergyError: 0,
      dt: 0,
    });
  let maxErr = 0;
  let err = 0;
  let steps = 0;
  let completed = true;
  while ((s.t[0] as number) < options.tEnd) {
    if ((s.forceEvals[0] as number) >= budget) {
      completed = false;
      break;
    }
    let dt = rule.dt(s, 0);
    if (!(dt > 0) || !Number.isFinite(dt)) {
      throw new XError(
        'NUMERICAL',
        `integrate: rule '${rule.name}' gave dt = ${dt} at t = ${s.t[0]}`,
      );
    }
    const left = options.tEnd - (s.t[0] as number);
    if (dt >= left) dt = left;
    leapfrogStep(s, 0, dt);
    if (dt === left) s.t[0] = options.tEnd;
    steps++;
    const E = totalEnergy(s, 0);
    err = Math.abs(E - E0) / scale;
    if (!(err <= maxErr)) maxErr = Number.isNaN(err) ? Infinity : err;
    if (every > 0 && steps % every === 0)
      frames.push({
        t: s.t[0] as number,
        x: s.x.slice(0, n3),
        v: s.v.slice(0, n3),
        energy: E,
        relEnergyError: err,
        dt,
      });
  }
  return {
    steps,
    forceEvals: s.forceEvals[0] as number,
    maxRelEnergyError: maxErr,
    finalRelEnergyError: err,
    wallSeconds: (performance.now() - start) / 1000,
    completed,
    frames,
  };
}
