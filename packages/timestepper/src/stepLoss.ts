import { bandLoss, type Band, type StepLoss } from './loss.js';
import { totalEnergy, type NBodyState } from './nbody.js';
import { energyTangent, leapfrogStepWithTangents, zeroTangent } from './tangent.js';

/**
 * Takes one KDK step of system `b` of `s` in place with step `dt` and returns its relative energy
 * error `|E1 − E0|/|E0|`, the band loss, and the exact derivative of the loss with respect to dt.
 */
export function stepWithLoss(s: NBodyState, b: number, dt: number, band: Band): StepLoss {
  const E0 = totalEnergy(s, b);
  const T = zeroTangent(s.N);
  leapfrogStepWithTangents(s, b, dt, [], T);
  const E1 = totalEnergy(s, b);
  const rel = Math.abs(E1 - E0) / Math.abs(E0);
  const { loss, dRel } = bandLoss(rel, band);
  const d = (dRel * Math.sign(E1 - E0) * energyTangent(s, b, T)) / Math.abs(E0);
  return { rel, loss, dLossDdt: Number.isFinite(d) ? d : 0 };
}
