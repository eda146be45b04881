import { readFileSync } from 'node:fs';
import { XError } from '@x/core';
import { unzipSync } from 'fflate';
import { decodeNpy, type NpyArray } from './npy.js';

/** Reads every array of an `.npz` file, keyed by name without `.npy`. */
export function readNpz(path: string): Record<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(readFileSync(path)));
  } catch (err) {
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
