import type { Rng } from '@x/core';
import type { OperatorParams } from './paramSpace.js';

function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / sum;
  return k;
}

/**
 * Circular (periodic) Gaussian blur of a channel-last field [H, W, C] in float64, in place:
 * separable, fixed loop order, so it gives the same bits everywhere.
 */
export function blurCircular(
  x: Float64Array,
  h: number,
  w: number,
  c: number,
  sigma: number,
): void {
  if (sigma < 0.5) return;
  const k = gaussianKernel(sigma);
  const taps = k.length;
  const r = (taps - 1) / 2;
  const wrap = (i: number, n: number) => ((i % n) + n) % n;
  const colIdx = new Int32Array(w * taps);
  for (let j = 0; j < w; j++)
    for (let t = 0; t < taps; t++) colIdx[j * taps + t] = wrap(j + t - r, w);
  const rowIdx = new Int32Array(h * taps);
  for (let i = 0; i < h; i++)
    for (let t = 0; t < taps; t++) rowIdx[i * taps + t] = wrap(i + t - r, h);
  const tmp = new Float64Array(x.length);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const o = (i * w + j) * c;
      for (let t = 0; t < taps; t++) {
        const wt = k[t] as number;
        const src = (i * w + (colIdx[j * taps + t] as number)) * c;
        for (let ch = 0; ch < c; ch++)
          tmp[o + ch] = (tmp[o + ch] as number) + wt * (x[src + ch] as number);
      }
    }
  x.fill(0);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const o = (i * w + j) * c;
      for (let t = 0; t < taps; t++) {
        const wt = k[t] as number;
        const src = ((rowIdx[i * taps + t] as number) * w + j) * c;
        for (let ch = 0; ch < c; ch++)
          x[o + ch] = (x[o + ch] as number) + wt * (tmp[src + ch] as number);
      }
    }
}

function standardize(x: Float64Array, center: boolean): void {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) * (v - mean);
  const std = Math.sqrt(ss / x.length);
  const m = center ? mean : 0;
  const s = std > 0 ? std : 1;
  for (let i = 0; i < x.length; i++) x[i] = ((x[i] as number) - m) / s;
}

/** Unit-variance Laplace draw by inverse CDF. */
function laplace(rng: Rng): number {
  const u = rng.uniform() - 0.5;
  const a = Math.abs(u);
  return (-Math.sign(u) * Math.log(1 - 2 * a)) / Math.SQRT2;
}

/**
 * The initial condition: a smooth Gaussian random field per channel (white noise from the IC
 * stream, circular blur with length `icCorrelation · grid`, standardized per channel), as float32
 * in channel-first layout [C, H, W].
 */
export function initialCondition(
  rng: Rng,
  channels: number,
  grid: number,
  icCorrelation: number,
): Float32Array {
  const out = new Float32Array(channels * grid * grid);
  for (let c = 0; c < channels; c++) {
    const field = new Float64Array(grid * grid);
    const stream = rng.stream('channel', c);
    for (let i = 0; i < field.length; i++) field[i] = stream.normal();
    blurCircular(field, grid, grid, 1, icCorrelation * grid);
    standardize(field, true);
    out.set(field, c * grid * grid);
  }
  return out;
}

/** Noise amplitude at step t (1-based step being produced) under the operator's schedule. */
export function noiseAmplitude(
  p: OperatorParams,
  t: number,
  timesteps: number,
  period: number,
): number {
  switch (p.noiseSchedule) {
    case 'constant':
      return p.noiseScale;
    case 'annealing':
      return p.noiseScale * (1 - t / timesteps);
    case 'periodic':
      return p.noiseScale * (1 + 0.5 * Math.sin((2 * Math.PI * t) / period));
  }
}

/**
 * One noise field [H, W, C] (float32, channel-last) for the stochastic block: unit-variance
 * white noise (Gaussian, or Laplace for `laplace`), spatially correlated with length
 * `spatial_correlation · grid` and renormalized by its global std.
 */
export function noiseField(rng: Rng, p: OperatorParams, channels: number): Float32Array {
  const n = p.gridSize * p.gridSize * channels;
  const x = new Float64Array(n);
  if (p.noiseType === 'laplace') for (let i = 0; i < n; i++) x[i] = laplace(rng);
  else for (let i = 0; i < n; i++) x[i] = rng.normal();
  const sigma = p.spatialCorrelation * p.gridSize;
  if (sigma >= 0.5) {
    blurCircular(x, p.gridSize, p.gridSize, channels, sigma);
    standardize(x, false);
  }
  return Float32Array.from(x);
}
