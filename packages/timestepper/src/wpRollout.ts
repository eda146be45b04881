import { TRANSITION_FEATURES, pushHistory, transitionFeatures } from './features.js';
import type { DtModel } from './model.js';
import { createState, freeFallTau, totalEnergy, type InitialConditions } from './nbody.js';
import { predictDt, type DtPrediction } from './predict.js';
import {
  WorkPrecisionAccumulator,
  type WorkPrecisionOptions,
  type WorkPrecisionValue,
} from './workPrecision.js';

/** Options of {@link workPrecisionRollout}. */
export interface WorkPrecisionRolloutOptions extends WorkPrecisionOptions {
  /** Steps of the rollout. */
  steps: number;
  historyLen: number;
  symmetric: boolean;
  /**
   * Drop the gradient's component along a uniform rescaling of every dt (default true): the
   * benchmark's tolerance sweep sets the rule's overall scale, so training moves only the shape.
   */
  shapeOnly?: boolean;
}

/** Removes from `grad` its projection on `dts` (the direction of a uniform rescaling). */
export function projectOutScale(grad: Float64Array, dts: readonly number[]): void {
  let gd = 0;
  let dd = 0;
  for (let k = 0; k < grad.length; k++) {
    gd += (grad[k] as number) * (dts[k] as number);
    dd += (dts[k] as number) ** 2;
  }
  if (!(dd > 0) || !Number.isFinite(gd)) return;
  for (let k = 0; k < grad.length; k++)
    grad[k] = (grad[k] as number) - (gd / dd) * (dts[k] as number);
}

/** A long rollout's objective and the surrogate rows through which it reaches the model. */
export interface WorkPrecisionRollout extends WorkPrecisionValue {
  /** Feature vectors that entered the predictions. */
  inputs: Float64Array[];
  /** ∂J/∂raw per input row (features held fixed). */
  coeffs: number[];
}

/**
 * Rolls the learned rule out for `steps` steps from one system's initial conditions (zero
 * history, rolled forward with the rollout's own transitions, as {@link learnedRule} does) and
 * returns the work–precision objective with the coefficients `∂J/∂raw_r = ∂J/∂dt_k · ∂dt_k/∂raw_r`
 * of every model evaluation, for `DtModel.update`.
 */
export function workPrecisionRollout(
  model: DtModel,
  ic: InitialConditions,
  options: WorkPrecisionRolloutOptions,
): WorkPrecisionRollout {
  const acc = new WorkPrecisionAccumulator(createState(ic), options);
  const s = acc.state;
  const hist = new Float64Array(options.historyLen * TRANSITION_FEATURES);
  const preds: DtPrediction[] = [];
  let Eprev = totalEnergy(s, 0);
  for (let k = 0; k < options.steps; k++) {
    const pred = predictDt(model, s, 0, hist, options.symmetric);
    preds.push(pred);
    if (!Number.isFinite(acc.step(pred.dt))) break;
    if (options.historyLen > 0) {
      const E = totalEnergy(s, 0);
      const tauEnd = freeFallTau(s.x, s.m, s.N, s.eps, 0);
      pushHistory(
        hist,
        transitionFeatures(pred.dt, pred.tau, tauEnd, Math.abs(E - Eprev) / Math.abs(Eprev)),
      );
      Eprev = E;
    }
  }
  const value = acc.finish();
  if (options.shapeOnly ?? true) projectOutScale(value.grad, acc.steps);
  const inputs: Float64Array[] = [];
  const coeffs: number[] = [];
  preds.slice(0, value.steps).forEach((p, k) => {
    for (const row of p.rows) {
      inputs.push(row.input);
      const c = (value.grad[k] as number) * row.dDtDraw;
      coeffs.push(Number.isFinite(c) ? c : 0);
    }
  });
  return { ...value, inputs, coeffs };
}
