import { createHash } from 'node:crypto';
import { Rng, XError } from '@x/core';
import { PARAMETER_NAMES } from './paramSpace.js';

/** Version tag of the seed scheme; stored in every file and mixed into every digest. */
export const SEED_SCHEME = 'x-operator-replay/seed-v1';

function lengthPrefixed(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([len, bytes]);
}

function indexBytes(index: number): Buffer {
  if (!Number.isSafeInteger(index) || index < 0)
    throw new XError(
      'INVALID_INPUT',
      `operator index must be a non-negative integer, got ${index}`,
    );
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(index));
  return b;
}

/**
 * The 14 unit-cube values of operator `index`, drawn from the root seed's stream
 * `('params', datasetId, index)`: independent of every other operator, batch and shard.
 */
export function sampleUnitCube(
  rootSeed: number | string,
  datasetId: string,
  index: number,
): Float64Array {
  indexBytes(index);
  const rng = Rng.fromSeed(rootSeed).stream('params', datasetId, index);
  const u = new Float64Array(PARAMETER_NAMES.length);
  for (let i = 0; i < u.length; i++) u[i] = rng.uniform();
  return u;
}

/**
 * The operator's seed digest (hex): SHA-256 over the scheme tag, the dataset id, the global
 * operator index (u64 LE) and the float64 parameter bytes (LE). The same inputs give the same
 * digest in any process on any machine.
 */
export function operatorSeed(datasetId: string, index: number, params: Float64Array): string {
  if (params.length !== PARAMETER_NAMES.length)
    throw new XError(
      'INVALID_INPUT',
      `expected ${PARAMETER_NAMES.length} parameters, got ${params.length}`,
    );
  const bytes = Buffer.alloc(params.length * 8);
  params.forEach((v, i) => bytes.writeDoubleLE(v, i * 8));
  return createHash('sha256')
    .update(lengthPrefixed(SEED_SCHEME))
    .update(lengthPrefixed(datasetId))
    .update(indexBytes(index))
    .update(bytes)
    .digest('hex');
}

/** The independent random streams of one operator. */
export interface OperatorStreams {
  /** The operator's seed digest (hex). */
  seed: string;
  /** Weights; layers draw from named substreams (`weights.stream(layer)`). */
  weights: Rng;
  /** The initial condition. */
  ic: Rng;
  /** Noise of realization `r` at step `t` (a fresh stream per pair). */
  noise(realization: number, t: number): Rng;
}

/** Streams for an operator seed digest (see {@link operatorSeed}). */
export function operatorStreams(seed: string): OperatorStreams {
  const root = Rng.fromSeed(seed);
  return {
    seed,
    weights: root.stream('weights'),
    ic: root.stream('ic'),
    noise: (r, t) => root.stream('noise', r, t),
  };
}
