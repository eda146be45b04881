/** Number of analytic (scale-free) features of a state. */
export const STATE_FEATURES = 7;
/** Number of features of one recorded transition in the history. */
export const TRANSITION_FEATURES = 4;

/** Size of the model input for a history of `K` transitions (0: analytic features only). */
export function featureSize(K: number): number {
  return STATE_FEATURES + K * TRANSITION_FEATURES;
}

const clamp = (v: number, lo: number, hi: number) =>
  v < lo ? lo : v > hi ? hi : Number.isNaN(v) ? 0 : v;

/** Analytic features and the state's time scale τ (minimum pair free-fall time). */
export interface StateFeatures {
  tau: number;
  features: Float64Array;
}

/**
 * Scale-free features of one system (`x`, `v` `[N, 3]`, `m` `[N]`): for the pair with the
 * smallest free-fall time τ₁ = sqrt(s³/(m_i+m_j)), log(crossing time / τ₁), the squared
 * radial-velocity cosine and |τ₁ d ln τ₁/dt|; log(τ₂/τ₁) for the next pair; the smallest
 * crossing time over τ₁; log of the virial ratio 2K/|W|; and log N. All are invariant under
 * rescaling of length, mass and time units and even under time reversal (v → −v): features odd
 * under reversal (the sign of the radial velocity) make a learned rule drift secularly.
 */
export function stateFeatures(
  x: ArrayLike<number>,
  v: ArrayLike<number>,
  m: ArrayLike<number>,
  eps: number,
): StateFeatures {
  const N = m.length;
  const e2 = eps * eps;
  let t1 = Infinity;
  let t2 = Infinity;
  let crossMin = Infinity;
  let best = { cross: Infinity, cos: 0, rate: 0 };
  let W = 0;
  let M = 0;
  const p = [0, 0, 0];
  for (let i = 0; i < N; i++) {
    const mi = m[i] as number;
    M += mi;
    for (let c = 0; c < 3; c++) p[c] = (p[c] as number) + mi * (v[i * 3 + c] as number);
    for (let j = i + 1; j < N; j++) {
      const rx = (x[j * 3] as number) - (x[i * 3] as number);
      const ry = (x[j * 3 + 1] as number) - (x[i * 3 + 1] as number);
      const rz = (x[j * 3 + 2] as number) - (x[i * 3 + 2] as number);
      const ux = (v[j * 3] as number) - (v[i * 3] as number);
      const uy = (v[j * 3 + 1] as number) - (v[i * 3 + 1] as number);
      const uz = (v[j * 3 + 2] as number) - (v[i * 3 + 2] as number);
      const s2 = rx * rx + ry * ry + rz * rz + e2;
      const s = Math.sqrt(s2);
      const mij = mi + (m[j] as number);
      W -= (mi * (m[j] as number)) / s;
      const tff = Math.sqrt((s2 * s) / mij);
      const speed = Math.sqrt(ux * ux + uy * uy + uz * uz);
      const cross = speed > 0 ? s / speed : Infinity;
      if (cross < crossMin) crossMin = cross;
      const rdotv = rx * ux + ry * uy + rz * uz;
      if (tff < t1) {
        t2 = t1;
        t1 = tff;
        best = { cross, cos: speed > 0 ? rdotv / (s * speed) : 0, rate: (1.5 * rdotv * tff) / s2 };
      } else if (tff < t2) t2 = tff;
    }
  }
  let K = 0;
  for (let i = 0; i < N; i++) {
    const mi = m[i] as number;
    let v2 = 0;
    for (let c = 0; c < 3; c++) v2 += ((v[i * 3 + c] as number) - (p[c] as number) / M) ** 2;
    K += 0.5 * mi * v2;
  }
  const features = new Float64Array(STATE_FEATURES);
  features[0] = clamp(Math.log(best.cross / t1) / 3, -4, 4);
  features[1] = best.cos * best.cos;
  features[2] = clamp(Math.abs(best.rate), 0, 4);
  features[3] = Number.isFinite(t2) ? clamp(Math.log(t2 / t1) / 3, 0, 4) : 0;
  features[4] = clamp(Math.log(crossMin / t1) / 3, -4, 4);
  features[5] = W < 0 ? clamp(Math.log((2 * K) / -W + 1e-12) / 3, -4, 4) : 0;
  features[6] = Math.log(N) / Math.log(100);
  return { tau: t1, features };
}

/**
 * Features of one accepted transition: dt/τ at its start, its relative energy error on a log
 * scale, log(τ_end/τ_start), and a presence flag (1; missing history entries are all zeros).
 */
export function transitionFeatures(
  dt: number,
  tauStart: number,
  tauEnd: number,
  relEnergyError: number,
): Float64Array {
  const f = new Float64Array(TRANSITION_FEATURES);
  f[0] = clamp(dt / tauStart, 0, 10);
  f[1] = clamp((Math.log10(relEnergyError + 1e-18) + 6) / 4, -3, 3);
  f[2] = clamp(Math.log(tauEnd / tauStart), -3, 3);
  f[3] = 1;
  return f;
}

/**
 * Pushes a transition into a history of `K` slots (`[K, TRANSITION_FEATURES]`, most recent first),
 * dropping the oldest.
 */
export function pushHistory(history: Float64Array, transition: Float64Array): void {
  history.copyWithin(TRANSITION_FEATURES, 0, history.length - TRANSITION_FEATURES);
  history.set(transition.subarray(0, Math.min(TRANSITION_FEATURES, history.length)), 0);
}

/** The model input: state features followed by the (zero-padded) history. */
export function modelInput(state: Float64Array, history: Float64Array): Float64Array {
  const out = new Float64Array(state.length + history.length);
  out.set(state, 0);
  out.set(history, state.length);
  return out;
}
