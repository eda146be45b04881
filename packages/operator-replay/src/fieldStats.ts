const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function table(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddles.get(n);
  if (t === undefined) {
    const cos = new Float64Array(n);
    const sin = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    t = { cos, sin };
    twiddles.set(n, t);
  }
  return t;
}

/** Power spectrum |F|² of a real g×g field (separable DFT in float64, fixed loop order). */
export function powerSpectrum(x: ArrayLike<number>, offset: number, g: number): Float64Array {
  const { cos, sin } = table(g);
  const re = new Float64Array(g * g);
  const im = new Float64Array(g * g);
  for (let i = 0; i < g; i++)
    for (let k = 0; k < g; k++) {
      let a = 0;
      let b = 0;
      for (let j = 0; j < g; j++) {
        const v = x[offset + i * g + j] as number;
        const idx = (k * j) % g;
        a += v * (cos[idx] as number);
        b -= v * (sin[idx] as number);
      }
      re[i * g + k] = a;
      im[i * g + k] = b;
    }
  const power = new Float64Array(g * g);
  for (let l = 0; l < g; l++)
    for (let k = 0; k < g; k++) {
      let a = 0;
      let b = 0;
      for (let i = 0; i < g; i++) {
        const idx = (l * i) % g;
        const c = cos[idx] as number;
        const s = sin[idx] as number;
        const r = re[i * g + k] as number;
        const m = im[i * g + k] as number;
        a += r * c + m * s;
        b += m * c - r * s;
      }
      power[l * g + k] = a * a + b * b;
    }
  return power;
}

/** Names of the per-field statistics of {@link fieldStatistics}, in order. */
export const FIELD_STAT_NAMES = [
  'mean',
  'std',
  'min',
  'max',
  'skewness',
  'kurtosis',
  'grad_mean',
  'laplacian_std',
  'power_low',
  'power_mid',
  'power_high',
  'spectral_centroid',
  'dominant_wavenumber',
] as const;

/**
 * Spatial and spectral statistics of one g×g field at `offset`: moments, extremes, mean
 * gradient magnitude and Laplacian spread (periodic differences), fractions of the
 * (non-DC) power in low/mid/high radial bands, the spectral centroid and the dominant
 * wavenumber (both as a fraction of the Nyquist radius).
 */
export function fieldStatistics(
  x: ArrayLike<number>,
  offset: number,
  g: number,
  out: Float64Array,
  at: number,
): void {
  const n = g * g;
  let mean = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i] as number;
    mean += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  let grad = 0;
  let lap = 0;
  let lap2 = 0;
  for (let i = 0; i < g; i++)
    for (let j = 0; j < g; j++) {
      const v = x[offset + i * g + j] as number;
      const d = v - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
      const up = x[offset + ((i + g - 1) % g) * g + j] as number;
      const down = x[offset + ((i + 1) % g) * g + j] as number;
      const left = x[offset + i * g + ((j + g - 1) % g)] as number;
      const right = x[offset + i * g + ((j + 1) % g)] as number;
      const gx = (right - left) / 2;
      const gy = (down - up) / 2;
      grad += Math.sqrt(gx * gx + gy * gy);
      const l = up + down + left + right - 4 * v;
      lap += l;
      lap2 += l * l;
    }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const std = Math.sqrt(m2);
  const lapMean = lap / n;
  const power = powerSpectrum(x, offset, g);
  const nyq = g / 2;
  const bands = [0, 0, 0];
  let total = 0;
  let centroid = 0;
  let best = -1;
  let bestK = 0;
  for (let l = 0; l < g; l++)
    for (let k = 0; k < g; k++) {
      if (l === 0 && k === 0) continue;
      const fl = l <= nyq ? l : l - g;
      const fk = k <= nyq ? k : k - g;
      const r = Math.sqrt(fl * fl + fk * fk) / nyq;
      const p = power[l * g + k] as number;
      const band = r < 1 / 3 ? 0 : r < 2 / 3 ? 1 : 2;
      bands[band] = (bands[band] as number) + p;
      total += p;
      centroid += r * p;
      if (p > best) {
        best = p;
        bestK = r;
      }
    }
  const safe = total > 0 ? total : 1;
  const values = [
    mean,
    std,
    min,
    max,
    std > 0 ? m3 / (std * std * std) : 0,
    m2 > 0 ? m4 / (m2 * m2) : 0,
    grad / n,
    Math.sqrt(Math.max(0, lap2 / n - lapMean * lapMean)),
    (bands[0] as number) / safe,
    (bands[1] as number) / safe,
    (bands[2] as number) / safe,
    centroid / safe,
    bestK,
  ];
  for (let i = 0; i < values.length; i++) out[at + i] = values[i] as number;
}
