/** The noise schedule over the energy landscapes, with every derived constant. */
export interface Schedule {
  /** Number of landscapes T (the paper uses 10). */
  landscapes: number;
  betas: Float64Array;
  alphasCumprod: Float64Array;
  /** √ᾱ_t: the scale of the clean signal and the clip bound at landscape t. */
  sqrtAlphasCumprod: Float64Array;
  /** √(1−ᾱ_t): the noise scale at landscape t. */
  sqrtOneMinusAlphasCumprod: Float64Array;
  /** Step size of the inner optimisation at landscape t: β_t·√(1/(1−ᾱ_t)). */
  optStepSize: Float64Array;
}

/**
 * The cosine schedule (s = 0.008, betas clipped at 0.999) of improved DDPM as used by IRED.
 *
 * @example
 * cosineSchedule(10).optStepSize[9]; // 0.999
 */
export function cosineSchedule(landscapes: number, s = 0.008): Schedule {
  const T = landscapes;
  const ac0: number[] = [];
  for (let i = 0; i <= T; i++) ac0.push(Math.cos(((i / T + s) / (1 + s)) * Math.PI * 0.5) ** 2);
  const first = ac0[0] as number;
  const betas = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const b = 1 - (ac0[t + 1] as number) / first / ((ac0[t] as number) / first);
    betas[t] = Math.min(Math.max(b, 0), 0.999);
  }
  const alphasCumprod = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    prod *= 1 - (betas[t] as number);
    alphasCumprod[t] = prod;
  }
  const sqrtAlphasCumprod = alphasCumprod.map(Math.sqrt);
  const sqrtOneMinusAlphasCumprod = alphasCumprod.map((a) => Math.sqrt(1 - a));
  const optStepSize = betas.map((b, t) => b * Math.sqrt(1 / (1 - (alphasCumprod[t] as number))));
  return {
    landscapes: T,
    betas,
    alphasCumprod,
    sqrtAlphasCumprod,
    sqrtOneMinusAlphasCumprod,
    optStepSize,
  };
}
