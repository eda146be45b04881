import { TRANSITION_FEATURES, pushHistory, transitionFeatures } from './features.js';
import type { DtModel } from './model.js';
import { freeFallTau, totalEnergy } from './nbody.js';
import { predictDt } from './predict.js';
import type { StepRule } from './stepRules.js';

/** Options of {@link learnedRule}. */
export interface LearnedRuleOptions {
  /** Multiplier on the predicted dt (1: the model as trained); the benchmark sweeps it. */
  scale?: number;
  /** Time-symmetric selection dt = ½[h(z_n) + h(z̃_{n+1})]. */
  symmetric?: boolean;
}

/**
 * A {@link StepRule} backed by the learned model. It keeps its own zero-padded history of the
 * last K transitions of the system it integrates, so use a fresh rule per integration.
 */
export function learnedRule(
  model: DtModel,
  historyLen: number,
  options: LearnedRuleOptions = {},
): StepRule {
  const scale = options.scale ?? 1;
  const symmetric = options.symmetric ?? false;
  const history = new Float64Array(historyLen * TRANSITION_FEATURES);
  let prev: { dt: number; tau: number; E: number } | undefined;
  return {
    name: 'learned',
    dt(s, b) {
      const E = totalEnergy(s, b);
      if (prev !== undefined && historyLen > 0) {
        const tauNow = freeFallTau(s.x, s.m, s.N, s.eps, b);
        pushHistory(
          history,
          transitionFeatures(prev.dt, prev.tau, tauNow, Math.abs(E - prev.E) / Math.abs(prev.E)),
        );
      }
      const pred = predictDt(model, s, b, history, symmetric, scale);
      const dt = pred.dt;
      prev = { dt, tau: pred.tau, E };
      return dt;
    },
  };
}
