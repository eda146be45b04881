import type { HistogramRecord } from './types.js';

/**
 * A histogram of `values` with `bins` uniform buckets between the finite min and max
 * (non-finite values are left out of the buckets but counted in `num`).
 */
export function makeHistogram(
  name: string,
  values: ArrayLike<number>,
  step: number,
  time: number,
  bins = 30,
): HistogramRecord {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
  }
  if (min === Infinity) {
    return {
      step,
      time,
      name,
      min: 0,
      max: 0,
      num: values.length,
      sum: 0,
      sumSquares: 0,
      bucketLimits: [],
      bucketCounts: [],
    };
  }
  const n = Math.max(1, Math.floor(bins));
  const width = max > min ? (max - min) / n : 1;
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    const b = Math.min(n - 1, Math.floor((v - min) / width));
    counts[b] = (counts[b] as number) + 1;
  }
  const limits = counts.map((_, i) => (i === n - 1 ? max : min + width * (i + 1)));
  return {
    step,
    time,
    name,
    min,
    max,
    num: values.length,
    sum,
    sumSquares,
    bucketLimits: limits,
    bucketCounts: counts,
  };
}
