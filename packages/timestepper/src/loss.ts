/** Band edges of the energy loss, as relative energy errors. */
export interface Band {
  lower: number;
  upper: number;
}

const DELTA = 1e-16;

/**
 * The band loss on `x = ln(rel + 1e-16)`: zero for `rel` in `[lower, upper]`, quadratic in log
 * space outside. Returns the loss and its derivative with respect to `rel`. Unlike the original,
 * it is applied to every step, so an error below `lower` yields a gradient that lengthens dt.
 */
export function bandLoss(rel: number, band: Band): { loss: number; dRel: number } {
  if (!Number.isFinite(rel)) return { loss: 1e3, dRel: 0 };
  const x = Math.log(rel + DELTA);
  const lo = Math.log(band.lower);
  const hi = Math.log(band.upper);
  const below = Math.max(lo - x, 0);
  const above = Math.max(x - hi, 0);
  return { loss: below * below + above * above, dRel: (-2 * below + 2 * above) / (rel + DELTA) };
}

/** Energy error of one step and the exact gradient of its band loss with respect to dt. */
export interface StepLoss {
  rel: number;
  loss: number;
  /** ∂loss/∂dt (float64, forward-mode through the KDK step). */
  dLossDdt: number;
}
