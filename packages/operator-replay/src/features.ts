import { XError } from '@x/core';
import { FIELD_STAT_NAMES, fieldStatistics } from './fieldStats.js';

/** Shape of a trajectory tensor: [M, T, C, H, W]. */
export type TrajectoryShape = readonly [number, number, number, number, number];

/** One dataset a family writes under `/features/<family>/<name>`: per-operator trailing shape. */
export interface FeatureDatasetSpec {
  name: string;
  trailing: number[];
  /** Names along the last axis (stored as the dataset's `names` attribute). */
  names: string[];
}

/**
 * A feature family: a versioned function from one operator's trajectory to named float32
 * arrays. Families are pure (same trajectory → same bits) and can be extracted inline during
 * generation or later by replay.
 */
export interface FeatureFamily {
  name: string;
  version: number;
  description: string;
  datasets(shape: TrajectoryShape): FeatureDatasetSpec[];
  extract(trajectory: Float32Array, shape: TrajectoryShape): Record<string, Float32Array>;
}

const TEMPORAL_STATS = ['mean', 'std', 'slope', 'final'] as const;
const REALIZATION_STATS = ['mean', 'std', 'cv'] as const;

function perTimestep(trajectory: Float32Array, shape: TrajectoryShape): Float64Array {
  const [m, t, c, h, w] = shape;
  const d = FIELD_STAT_NAMES.length;
  const out = new Float64Array(m * t * d);
  const tmp = new Float64Array(d);
  for (let r = 0; r < m; r++)
    for (let s = 0; s < t; s++) {
      const at = (r * t + s) * d;
      for (let ch = 0; ch < c; ch++) {
        fieldStatistics(trajectory, ((r * t + s) * c + ch) * h * w, h, tmp, 0);
        for (let k = 0; k < d; k++) out[at + k] = (out[at + k] as number) + (tmp[k] as number) / c;
      }
    }
  return out;
}

function temporalStats(series: Float64Array, out: Float64Array, at: number): void {
  const n = series.length;
  let mean = 0;
  for (const v of series) mean += v;
  mean /= n;
  let ss = 0;
  let cov = 0;
  const tm = (n - 1) / 2;
  let tt = 0;
  for (let i = 0; i < n; i++) {
    const d = (series[i] as number) - mean;
    ss += d * d;
    cov += (i - tm) * d;
    tt += (i - tm) * (i - tm);
  }
  out[at] = mean;
  out[at + 1] = Math.sqrt(ss / n);
  out[at + 2] = tt > 0 ? cov / tt : 0;
  out[at + 3] = series[n - 1] as number;
}

const summaryPerTrajNames = FIELD_STAT_NAMES.flatMap((f) => TEMPORAL_STATS.map((s) => `${f}.${s}`));

/**
 * SUMMARY: per-timestep spatial and spectral statistics (averaged over channels) → per-trajectory
 * temporal statistics (mean, std, slope, final) → mean/std/cv across realizations.
 */
export const summaryFamily: FeatureFamily = {
  name: 'summary',
  version: 1,
  description:
    'per-timestep spatial/spectral statistics, temporal statistics, realization mean/std/cv',
  datasets: ([m, t]) => [
    {
      name: 'per_timestep',
      trailing: [m, t, FIELD_STAT_NAMES.length],
      names: [...FIELD_STAT_NAMES],
    },
    {
      name: 'per_trajectory',
      trailing: [m, summaryPerTrajNames.length],
      names: summaryPerTrajNames,
    },
    {
      name: 'aggregated',
      trailing: [summaryPerTrajNames.length * REALIZATION_STATS.length],
      names: summaryPerTrajNames.flatMap((f) => REALIZATION_STATS.map((s) => `${f}.${s}`)),
    },
  ],
  extract(trajectory, shape) {
    const [m, t] = shape;
    const d = FIELD_STAT_NAMES.length;
    const steps = perTimestep(trajectory, shape);
    const dt = d * TEMPORAL_STATS.length;
    const perTraj = new Float64Array(m * dt);
    const series = new Float64Array(t);
    for (let r = 0; r < m; r++)
      for (let k = 0; k < d; k++) {
        for (let s = 0; s < t; s++) series[s] = steps[(r * t + s) * d + k] as number;
        temporalStats(series, perTraj, r * dt + k * TEMPORAL_STATS.length);
      }
    const agg = new Float64Array(dt * REALIZATION_STATS.length);
    for (let k = 0; k < dt; k++) {
      let mean = 0;
      for (let r = 0; r < m; r++) mean += perTraj[r * dt + k] as number;
      mean /= m;
      let ss = 0;
      for (let r = 0; r < m; r++) ss += ((perTraj[r * dt + k] as number) - mean) ** 2;
      const std = Math.sqrt(ss / m);
      agg[k * 3] = mean;
      agg[k * 3 + 1] = std;
      agg[k * 3 + 2] = std / (Math.abs(mean) + 1e-8);
    }
    return {
      per_timestep: Float32Array.from(steps),
      per_trajectory: Float32Array.from(perTraj),
      aggregated: Float32Array.from(agg),
    };
  },
};

const TEMPORAL_CURVES = [
  'energy',
  'gradient_energy',
  'high_frequency_fraction',
  'increment_norm',
] as const;

/**
 * TEMPORAL: per-realization curves over time: field energy, gradient energy, high-frequency
 * power fraction, and the RMS increment ‖X_t − X_{t−1}‖ (0 at t = 0).
 */
export const temporalFamily: FeatureFamily = {
  name: 'temporal',
  version: 1,
  description:
    'per-realization curves: energy, gradient energy, high-frequency fraction, increment norm',
  datasets: ([m, t]) => [
    { name: 'curves', trailing: [m, t, TEMPORAL_CURVES.length], names: [...TEMPORAL_CURVES] },
  ],
  extract(trajectory, shape) {
    const [m, t, c, h, w] = shape;
    const field = c * h * w;
    const steps = perTimestep(trajectory, shape);
    const d = FIELD_STAT_NAMES.length;
    const curves = new Float32Array(m * t * TEMPORAL_CURVES.length);
    for (let r = 0; r < m; r++)
      for (let s = 0; s < t; s++) {
        const base = (r * t + s) * field;
        let energy = 0;
        let inc = 0;
        for (let i = 0; i < field; i++) {
          const v = trajectory[base + i] as number;
          energy += v * v;
          if (s > 0) {
            const dv = v - (trajectory[base - field + i] as number);
            inc += dv * dv;
          }
        }
        const at = (r * t + s) * TEMPORAL_CURVES.length;
        const st = (r * t + s) * d;
        curves[at] = energy / field;
        curves[at + 1] = (steps[st + 6] as number) ** 2;
        curves[at + 2] = steps[st + 10] as number;
        curves[at + 3] = Math.sqrt(inc / field);
      }
    return { curves };
  },
};

const registry = new Map<string, FeatureFamily>([
  [summaryFamily.name, summaryFamily],
  [temporalFamily.name, temporalFamily],
]);

/** Registers a feature family so it can be extracted inline or by replay. */
export function registerFamily(family: FeatureFamily): void {
  if (!/^[a-z][a-z0-9_]*$/.test(family.name))
    throw new XError(
      'INVALID_CONFIG',
      `feature family name '${family.name}': use lowercase letters, digits, '_'`,
    );
  const existing = registry.get(family.name);
  if (existing !== undefined && existing !== family)
    throw new XError('INVALID_CONFIG', `feature family '${family.name}' is already registered`);
  registry.set(family.name, family);
}

/** The registered family with this name; throws naming the known families otherwise. */
export function getFamily(name: string): FeatureFamily {
  const f = registry.get(name);
  if (f === undefined)
    throw new XError(
      'INVALID_INPUT',
      `unknown feature family '${name}' (known: ${familyNames().join(', ')})`,
    );
  return f;
}

/** Names of the registered families, sorted. */
export function familyNames(): string[] {
  return [...registry.keys()].sort();
}
