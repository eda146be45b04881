import { XError, readRegularFile } from '@x/core';
import { unzipSync } from 'fflate';
import { decodeNpy, type NpyArray } from './npy.js';

/** Default cap on the bytes an `.npz` may inflate to (all entries together): 4 GiB. */
export const MAX_NPZ_BYTES = 4 * 1024 ** 3;

/** Deflate cannot compress better than about 1032:1; a zip declaring more is a bomb or a lie. */
const MAX_RATIO = 1100;

/**
 * Reads every array of an `.npz` file, keyed by name without `.npy`. Bounded: only a regular
 * file is read, the sizes its entries declare are checked against `maxBytes` (default
 * {@link MAX_NPZ_BYTES}) and against deflate's best ratio before anything is inflated, and each
 * array's declared shape must match its bytes. Every error is `INVALID_INPUT` naming the file.
 */
export function readNpz(
  path: string,
  options: { maxBytes?: number } = {},
): Record<string, NpyArray> {
  const max = options.maxBytes ?? MAX_NPZ_BYTES;
  const data = readRegularFile(path, Math.min(max, 2 ** 31 - 1), 'an .npz file');
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(data, {
      filter: (f) => {
        if (!f.name.endsWith('.npy')) return false;
        total += f.originalSize;
        if (total > max) {
          throw new XError(
            'INVALID_INPUT',
            `${path}: entries declare more than ${max} bytes uncompressed (at ${f.name}); refusing to inflate`,
          );
        }
        if (f.compression === 0 && f.originalSize !== f.size) {
          throw new XError(
            'INVALID_INPUT',
            `${path}:${f.name}: a stored entry declares ${f.originalSize} bytes but holds ${f.size}`,
          );
        }
        if (f.compression !== 0 && f.originalSize > Math.max(1 << 20, f.size * MAX_RATIO)) {
          throw new XError(
            'INVALID_INPUT',
            `${path}:${f.name}: declares ${f.originalSize} bytes from ${f.size} compressed (a zip bomb?); refusing to inflate`,
          );
        }
        return true;
      },
    });
  } catch (err) {
    if (err instanceof XError) throw err;
    throw new XError('INVALID_INPUT', `${path}: not a readable .npz (${(err as Error).message})`, {
      cause: err,
    });
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, bytes] of Object.entries(files)) {
    if (!name.endsWith('.npy')) continue;
    out[name.slice(0, -4)] = decodeNpy(bytes, `${path}:${name}`);
  }
  return out;
}

/** A trajectory read back from its `.npz`. */
export interface LoadedTrajectory {
  states: NpyArray;
  energies: NpyArray;
  steps: NpyArray;
  successFlags: NpyArray;
  landscapeIndices: NpyArray;
  stepRejected: NpyArray;
  timeSteps: NpyArray;
  /** `meta_*` values (strings, numbers, booleans). */
  meta: Record<string, string | number | boolean>;
}

/** Reads a trajectory `.npz` written by {@link TrajectoryLogger} (or numpy with the same keys). */
export function loadTrajectory(path: string): LoadedTrajectory {
  const a = readNpz(path);
  const need = (k: string): NpyArray => {
    const v = a[k];
    if (v === undefined) throw new XError('INVALID_INPUT', `${path}: missing array '${k}'`);
    return v;
  };
  const meta: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(a)) {
    if (!k.startsWith('meta_')) continue;
    const key = k.slice(5);
    if (typeof v.data === 'string') meta[key] = v.data;
    else if (v.dtype === 'b1') meta[key] = v.data[0] !== 0;
    else meta[key] = Number(v.data[0]);
  }
  return {
    states: need('states'),
    energies: need('energies'),
    steps: need('steps'),
    successFlags: need('success_flags'),
    landscapeIndices: need('landscape_indices'),
    stepRejected: need('step_rejected'),
    timeSteps: need('time_steps'),
    meta,
  };
}
