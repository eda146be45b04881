import { modelInput, stateFeatures } from './features.js';
import type { DtModel } from './model.js';
import type { NBodyState } from './nbody.js';
import { predictPositions, predictVelocities } from './stepRules.js';

/** A feature vector that entered a prediction and `∂dt/∂raw` for it. */
export interface PredictionRow {
  input: Float64Array;
  dDtDraw: number;
}

/** A predicted step size and the rows through which it depends on the model. */
export interface DtPrediction {
  dt: number;
  tau: number;
  rows: PredictionRow[];
}

/**
 * The learned step for system `b`: `h(z) = scale·τ(z)·exp(raw(features(z), history))`. With
 * `symmetric`, `dt = ½[h(z_n) + h(z̃_{n+1})]` by `iterations` fixed-point passes over the drift
 * prediction z̃ (no force evaluation); the history is the current one for both terms. The scale
 * is inside h so that z̃ is predicted at the step actually taken (scaling the symmetric result
 * afterwards would predict at the wrong time and break time symmetry).
 */
export function predictDt(
  model: DtModel,
  s: NBodyState,
  b: number,
  history: Float64Array,
  symmetric: boolean,
  scale = 1,
  iterations = 3,
): DtPrediction {
  const n3 = s.N * 3;
  const m = s.m.subarray(b * s.N, (b + 1) * s.N);
  const f0 = stateFeatures(
    s.x.subarray(b * n3, (b + 1) * n3),
    s.v.subarray(b * n3, (b + 1) * n3),
    m,
    s.eps,
  );
  const in0 = modelInput(f0.features, history);
  const h0 = scale * f0.tau * Math.exp(model.raw(in0));
  if (!symmetric) return { dt: h0, tau: f0.tau, rows: [{ input: in0, dDtDraw: h0 }] };
  const xp = new Float64Array(n3);
  const vp = new Float64Array(n3);
  let dt = h0;
  let last: PredictionRow = { input: in0, dDtDraw: 0 };
  for (let k = 0; k < iterations; k++) {
    predictPositions(s, b, dt, xp);
    predictVelocities(s, b, dt, vp);
    const f1 = stateFeatures(xp, vp, m, s.eps);
    const in1 = modelInput(f1.features, history);
    const h1 = scale * f1.tau * Math.exp(model.raw(in1));
    dt = 0.5 * (h0 + h1);
    last = { input: in1, dDtDraw: 0.5 * h1 };
  }
  return { dt, tau: f0.tau, rows: [{ input: in0, dDtDraw: 0.5 * h0 }, last] };
}
