import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { XError } from '@x/core';
import type { DatasetConfig } from './datasetConfig.js';
import { initialCondition, noiseAmplitude, noiseField } from './fields.js';
import { OperatorNet } from './operator.js';
import { mapParameters, type OperatorParams } from './paramSpace.js';
import { operatorSeed, operatorStreams, sampleUnitCube, type OperatorStreams } from './seeds.js';

/** Everything that determines one operator: its global index, parameters and seed streams. */
export interface OperatorSpec {
  index: number;
  /** The 14 unit-cube values, exact float64. */
  unit: Float64Array;
  params: OperatorParams;
  streams: OperatorStreams;
}

/** One operator's rollout: IC [C,H,W] and trajectory [M,T,C,H,W] (float32), and its SHA-256. */
export interface RolloutResult {
  index: number;
  ic: Float32Array;
  trajectory: Float32Array;
  /** Shape of `trajectory`: [M, T, C, H, W]. */
  shape: [number, number, number, number, number];
  /** SHA-256 (hex) of the trajectory's little-endian float32 bytes. */
  hash: string;
}

/** Options of {@link rolloutOperator}. */
export interface RolloutOptions {
  /** Realizations computed together in one forward pass (default all); results do not depend on it. */
  realizationBatch?: number;
  /** The stored initial condition [C,H,W] (replay); generated from the IC stream otherwise. */
  ic?: Float32Array;
}

/**
 * The spec of operator `index`: its unit-cube values (sampled from the root seed, or given, e.g.
 * read back from a file), mapped parameters and seed streams.
 */
export function operatorSpec(
  config: DatasetConfig,
  index: number,
  unit?: Float64Array,
): OperatorSpec {
  const u = unit ?? sampleUnitCube(config.rootSeed, config.datasetId, index);
  const params = mapParameters(u, config.parameters);
  return {
    index,
    unit: u,
    params,
    streams: operatorStreams(operatorSeed(config.datasetId, index, u)),
  };
}

/** SHA-256 (hex) of a float32 array's little-endian bytes. */
export function hashFloat32(data: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

function chwToHwc(
  src: Float32Array,
  c: number,
  hw: number,
  dst: Float32Array,
  offset: number,
): void {
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < hw; i++) dst[offset + i * c + ch] = src[ch * hw + i] as number;
}

/**
 * Rolls one operator out for `timesteps` steps (t = 0 is the IC) over `realizations` noise
 * realizations under its update policy: autoregressive X_t = O(X_{t-1}), residual
 * X_t = X_{t-1} + dt·O(X_{t-1}), convex X_t = α·X_{t-1} + (1-α)·O(X_{t-1}). The noise of
 * realization r at step t comes from the stream `noise(r, t)`, so nothing depends on batching.
 */
export function rolloutOperator(
  config: DatasetConfig,
  spec: OperatorSpec,
  options: RolloutOptions = {},
): RolloutResult {
  const p = spec.params;
  const { channels: c, realizations: m, timesteps: steps } = config;
  const g = p.gridSize;
  const hw = g * g;
  const field = c * hw;
  const ic = options.ic ?? initialCondition(spec.streams.ic, c, g, config.icCorrelation);
  if (ic.length !== field)
    throw new XError(
      'INVALID_INPUT',
      `operator ${spec.index}: initial condition has ${ic.length} values, expected ${field}`,
    );
  const rb = Math.max(1, Math.min(options.realizationBatch ?? m, m));
  const trajectory = new Float32Array(m * steps * field);
  const net = new OperatorNet(p, c, spec.streams.weights);
  try {
    for (let r0 = 0; r0 < m; r0 += rb) {
      const b = Math.min(rb, m - r0);
      const x0 = new Float32Array(b * field);
      for (let j = 0; j < b; j++) {
        chwToHwc(ic, c, hw, x0, j * field);
        trajectory.set(ic, ((r0 + j) * steps + 0) * field);
      }
      let x = tf.tensor4d(x0, [b, g, g, c]);
      for (let t = 1; t < steps; t++) {
        const amp = noiseAmplitude(p, t, steps, config.noisePeriod);
        const nh = net.hiddenChannels;
        const noise = new Float32Array(b * hw * nh);
        if (amp !== 0) {
          for (let j = 0; j < b; j++)
            noise.set(noiseField(spec.streams.noise(r0 + j, t), p, nh), j * hw * nh);
        }
        const next: tf.Tensor4D = tf.tidy(() => {
          const nt = tf.tensor4d(noise, [b, g, g, nh]);
          const y = net.forward(x, nt, amp);
          switch (p.updatePolicy) {
            case 'autoregressive':
              return y;
            case 'residual':
              return tf.add<tf.Tensor4D>(x, tf.mul(y, p.dt));
            case 'convex':
              return tf.add<tf.Tensor4D>(tf.mul(x, p.alpha), tf.mul(y, 1 - p.alpha));
          }
        });
        x.dispose();
        x = next;
        const data = x.dataSync() as Float32Array;
        for (let j = 0; j < b; j++) {
          const base = ((r0 + j) * steps + t) * field;
          const src = j * field;
          for (let i = 0; i < hw; i++)
            for (let ch = 0; ch < c; ch++)
              trajectory[base + ch * hw + i] = data[src + i * c + ch] as number;
        }
      }
      x.dispose();
    }
  } finally {
    net.dispose();
  }
  return {
    index: spec.index,
    ic,
    trajectory,
    shape: [m, steps, c, g, g],
    hash: hashFloat32(trajectory),
  };
}
