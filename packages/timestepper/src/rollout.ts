import type { TrainConfig } from './config.js';
import { pushHistory, transitionFeatures } from './features.js';
import { bandLoss } from './loss.js';
import type { DtModel } from './model.js';
import { createState, freeFallTau, totalEnergy } from './nbody.js';
import { predictDt, type DtPrediction } from './predict.js';
import type { ReplaySample } from './buffer.js';
import { energyTangent, leapfrogStepWithTangents, zeroTangent, type Tangent } from './tangent.js';

/** Outcome of one Part-2 rollout from a buffered sample. */
export interface RolloutResult {
  loss: number;
  /** Max over the rollout of the cumulative relative energy error |E_k − E_0|/|E_0|. */
  maxRel: number;
  meanDtOverTau: number;
  inputs: Float64Array[];
  /** ∂loss/∂raw per input row. */
  coeffs: number[];
}

/**
 * Rolls the learned rule out for `config.part2.rollout` steps from a buffered sample, featurized
 * with the sample's own stored history (rolled forward with the rollout's transitions). The loss
 * is the mean band loss of the cumulative relative energy error after each step; its exact
 * gradient with respect to every step size comes from forward-mode tangents in float64.
 */
export function rollout(
  model: DtModel,
  sample: ReplaySample,
  eps: number,
  config: TrainConfig,
): RolloutResult {
  const N = sample.m.length;
  const R = config.part2.rollout;
  const band = { lower: config.loss.eLower, upper: config.loss.eUpper };
  const s = createState({ B: 1, N, eps, x: sample.x, v: sample.v, m: sample.m });
  const hist = sample.history.slice();
  const E0 = totalEnergy(s, 0);
  let Eprev = E0;
  const preds: DtPrediction[] = [];
  const tangents: Tangent[] = [];
  const G = new Float64Array(R);
  let loss = 0;
  let maxRel = 0;
  let ratio = 0;
  for (let k = 0; k < R; k++) {
    const pred = predictDt(model, s, 0, hist, config.symmetric);
    preds.push(pred);
    const own = zeroTangent(N);
    leapfrogStepWithTangents(s, 0, pred.dt, tangents, own);
    tangents.push(own);
    const E = totalEnergy(s, 0);
    const rel = Math.abs(E - E0) / Math.abs(E0);
    const b = bandLoss(rel, band);
    loss += b.loss / R;
    maxRel = Math.max(maxRel, rel);
    ratio += pred.dt / pred.tau / R;
    const scale = (b.dRel * Math.sign(E - E0)) / Math.abs(E0) / R;
    if (scale !== 0 && Number.isFinite(scale)) {
      for (let j = 0; j <= k; j++)
        G[j] = (G[j] as number) + scale * energyTangent(s, 0, tangents[j] as Tangent);
    }
    const tauEnd = freeFallTau(s.x, s.m, N, eps, 0);
    pushHistory(
      hist,
      transitionFeatures(pred.dt, pred.tau, tauEnd, Math.abs(E - Eprev) / Math.abs(Eprev)),
    );
    Eprev = E;
  }
  const inputs: Float64Array[] = [];
  const coeffs: number[] = [];
  preds.forEach((p, j) => {
    for (const row of p.rows) {
      inputs.push(row.input);
      const c = (G[j] as number) * row.dDtDraw;
      coeffs.push(Number.isFinite(c) ? c : 0);
    }
  });
  return { loss, maxRel, meanDtOverTau: ratio, inputs, coeffs };
}
