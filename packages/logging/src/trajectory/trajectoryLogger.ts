import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { XError } from '@x/core';
import { shapeOf, toFloat32, toFloat64 } from '../arrays.js';
import { npyHeader } from './npy.js';
import { loadTrajectory, type LoadedTrajectory } from './npzReader.js';
import {
  compressionSettings,
  writeZip,
  type ByteSource,
  type NpzCompression,
} from './npzWriter.js';

/** A state as the trajectory stores it: float32 data of a shape. */
export interface StateArray {
  data: Float32Array;
  shape: number[];
}

/** Turns an appended state into its stored form (e.g. Sudoku's `[batch, 729]` → `[batch, 9, 9, 9]`). */
export type StateTransform = (state: StateArray) => StateArray;

/** Options of {@link TrajectoryLogger}. */
export interface TrajectoryLoggerOptions {
  /** Write each trajectory's states to a spool file every `flushBytes` instead of keeping them in memory. */
  streaming?: boolean;
  /** Bytes of states buffered per trajectory before a streaming flush. Default 8 MiB. */
  flushBytes?: number;
  /** Directory of the spool files (default a fresh directory under the OS temp dir). */
  spoolDir?: string;
  /** Applied to every appended state (after the deep copy). */
  transform?: StateTransform;
  /**
   * Compression of saved files: `fast` (deflate level 1, run-length strategy; default), `small`
   * (level 6, like `numpy.savez_compressed`) or `none` (stored, like `numpy.savez`).
   */
  compression?: NpzCompression;
}

/** What {@link TrajectoryLogger.init} records about a trajectory. */
export interface TrajectoryInit {
  difficulty?: string;
  landscapeIdx?: number;
  /** Extra metadata, saved as `meta_<key>` (strings, numbers, booleans). */
  meta?: Record<string, string | number | boolean>;
}

/** One optimisation step (seed 000's `append_step`). Arrays may be plain, typed or tensors. */
export interface TrajectoryStep {
  state: unknown;
  energy: unknown;
  step: number;
  success?: unknown;
  landscapeIdx?: number;
  stepRejected?: unknown;
  timeStep?: unknown;
}

interface Field {
  shape: number[] | undefined;
  values: number[];
}

interface Trajectory {
  problemId: string;
  difficulty: string;
  landscapeIdx: number;
  meta: Record<string, string | number | boolean>;
  startTime: string;
  numSteps: number;
  stateShape: number[] | undefined;
  states: Float32Array[];
  statesBytes: number;
  spool: string | undefined;
  spooledBytes: number;
  energies: Field;
  steps: number[];
  success: Field;
  landscapes: number[];
  rejected: Field;
  timeSteps: Field;
}

function u8(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function strEntry(s: string): ByteSource {
  return () => {
    const cps = [...s].map((c) => c.codePointAt(0) as number);
    if (cps.length === 0) cps.push(0);
    return [npyHeader(`<U${cps.length}`, []), u8(Uint32Array.from(cps))];
  };
}

function arrEntry(descr: string, shape: number[], data: ArrayBufferView): ByteSource {
  return () => [npyHeader(descr, shape), u8(data)];
}

/**
 * Records optimisation trajectories (seed 000) and saves each as an `.npz` that `numpy.load`
 * opens, with `states`, `energies`, `steps`, `success_flags`, `landscape_indices`,
 * `step_rejected`, `time_steps` and `meta_*`. Appended data is deep-copied. In streaming mode
 * states go to a spool file every `flushBytes`, so trajectories larger than memory work; any
 * number of trajectories may be open at once.
 *
 * @example
 * const traj = new TrajectoryLogger({ transform: sudokuTo9x9x9 });
 * const id = traj.init('sudoku_001', { difficulty: 'hard' });
 * traj.append(id, { state, energy, step: 0, success: false });
 * await traj.save(id, 'runs/x/trajectories/sudoku_001.npz');
 */
export class TrajectoryLogger {
  readonly #opts: Required<Omit<TrajectoryLoggerOptions, 'transform' | 'spoolDir'>> &
    TrajectoryLoggerOptions;
  readonly #trajs = new Map<string, Trajectory>();
  #spoolDir: string | undefined;
  #counter = 0;

  constructor(options: TrajectoryLoggerOptions = {}) {
    const compression = options.compression ?? 'fast';
    if (!['fast', 'small', 'none'].includes(compression)) {
      throw new XError(
        'INVALID_CONFIG',
        `TrajectoryLogger compression: expected fast, small or none, got '${String(compression)}'`,
      );
    }
    this.#opts = { streaming: false, flushBytes: 8 * 1024 * 1024, ...options, compression };
  }

  /** Reads a trajectory `.npz` back (see {@link loadTrajectory}). */
  static load(path: string): LoadedTrajectory {
    return loadTrajectory(path);
  }

  /** Ids of the open trajectories. */
  get ids(): string[] {
    return [...this.#trajs.keys()];
  }

  /** Starts a trajectory and returns its id (`<problemId>#<n>`). */
  init(problemId: string, init: TrajectoryInit = {}): string {
    const id = `${problemId}#${this.#counter++}`;
    const field = (): Field => ({ shape: undefined, values: [] });
    this.#trajs.set(id, {
      problemId,
      difficulty: init.difficulty ?? 'unknown',
      landscapeIdx: init.landscapeIdx ?? 0,
      meta: { ...init.meta },
      startTime: new Date().toISOString(),
      numSteps: 0,
      stateShape: undefined,
      states: [],
      statesBytes: 0,
      spool: undefined,
      spooledBytes: 0,
      energies: field(),
      steps: [],
      success: field(),
      landscapes: [],
      rejected: field(),
      timeSteps: field(),
    });
    return id;
  }

  #get(id: string): Trajectory {
    const t = this.#trajs.get(id);
    if (t === undefined) throw new XError('NOT_FOUND', `no open trajectory '${id}'`);
    return t;
  }

  /** Appends one step (deep copies of every array). */
  append(id: string, s: TrajectoryStep): void {
    const t = this.#get(id);
    const where = `trajectory '${id}' step ${s.step}`;
    const data = toFloat32(s.state);
    if (data === undefined) throw new XError('INVALID_INPUT', `${where}: state is not numeric`);
    let state: StateArray = { data, shape: shapeOf(s.state) };
    if (this.#opts.transform) state = this.#opts.transform(state);
    if (t.stateShape === undefined) t.stateShape = [...state.shape];
    else if (state.shape.join() !== t.stateShape.join()) {
      throw new XError(
        'INVALID_INPUT',
        `${where}: state shape [${state.shape.join(', ')}] differs from the first step's [${t.stateShape.join(', ')}]`,
      );
    }
    const push = (f: Field, v: unknown, name: string, fallback: number) => {
      const arr = v === undefined ? [fallback] : Array.from(toFloat64(v) ?? []);
      const shape =
        v === undefined || typeof v === 'number' || typeof v === 'boolean' ? [] : [arr.length];
      if (f.shape === undefined) f.shape = shape;
      else if (shape.join() !== f.shape.join()) {
        throw new XError(
          'INVALID_INPUT',
          `${where}: ${name} has shape [${shape.join(', ')}], earlier steps [${f.shape.join(', ')}]`,
        );
      }
      for (const x of arr) f.values.push(x);
    };
    push(t.energies, s.energy, 'energy', NaN);
    push(t.success, s.success, 'success', 0);
    push(t.rejected, s.stepRejected, 'stepRejected', 0);
    push(t.timeSteps, s.timeStep, 'timeStep', -1);
    t.steps.push(s.step);
    t.landscapes.push(s.landscapeIdx ?? t.landscapeIdx);
    t.states.push(state.data);
    t.statesBytes += state.data.byteLength;
    t.numSteps++;
    if (this.#opts.streaming && t.statesBytes >= this.#opts.flushBytes) this.#spool(id, t);
  }

  #spool(id: string, t: Trajectory): void {
    if (t.spool === undefined) {
      this.#spoolDir ??= this.#opts.spoolDir ?? mkdtempSync(join(tmpdir(), 'x-traj-'));
      mkdirSync(this.#spoolDir, { recursive: true });
      t.spool = join(this.#spoolDir, `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.f32`);
    }
    appendFileSync(t.spool, Buffer.concat(t.states.map(u8)));
    t.spooledBytes += t.statesBytes;
    t.states = [];
    t.statesBytes = 0;
  }

  /** Bytes held in memory by one trajectory (or all). */
  memoryEstimate(id?: string): number {
    const one = (t: Trajectory) =>
      t.statesBytes +
      8 *
        (t.energies.values.length +
          t.success.values.length +
          t.rejected.values.length +
          t.timeSteps.values.length +
          t.steps.length +
          t.landscapes.length) +
      256;
    if (id !== undefined) return one(this.#get(id));
    let n = 0;
    for (const t of this.#trajs.values()) n += one(t);
    return n;
  }

  /**
   * Writes the trajectory to `path` as `.npz` (parents created). The trajectory stays open unless
   * `clear` is set (write each episode or batch, then free its memory and spool file).
   */
  async save(
    id: string,
    path: string,
    options: { completed?: boolean; clear?: boolean } = {},
  ): Promise<void> {
    const t = this.#get(id);
    mkdirSync(dirname(path), { recursive: true });
    const n = t.numSteps;
    const stateShape = [n, ...(t.stateShape ?? [0])];
    const states: ByteSource = () => this.#stateBytes(t, stateShape);
    const f = (fl: Field): number[] => [n, ...(fl.shape ?? [])];
    const bools = (fl: Field) => Uint8Array.from(fl.values, (v) => (v !== 0 ? 1 : 0));
    const entries: { name: string; bytes: ByteSource }[] = [
      { name: 'states.npy', bytes: states },
      {
        name: 'energies.npy',
        bytes: arrEntry('<f4', f(t.energies), Float32Array.from(t.energies.values)),
      },
      { name: 'steps.npy', bytes: arrEntry('<i4', [n], Int32Array.from(t.steps)) },
      { name: 'success_flags.npy', bytes: arrEntry('|b1', f(t.success), bools(t.success)) },
      { name: 'landscape_indices.npy', bytes: arrEntry('<i4', [n], Int32Array.from(t.landscapes)) },
      { name: 'step_rejected.npy', bytes: arrEntry('|b1', f(t.rejected), bools(t.rejected)) },
      {
        name: 'time_steps.npy',
        bytes: arrEntry('<i4', f(t.timeSteps), Int32Array.from(t.timeSteps.values)),
      },
      { name: 'meta_problem_id.npy', bytes: strEntry(t.problemId) },
      { name: 'meta_difficulty.npy', bytes: strEntry(t.difficulty) },
      { name: 'meta_start_time.npy', bytes: strEntry(t.startTime) },
      { name: 'meta_num_steps.npy', bytes: arrEntry('<i8', [], BigInt64Array.of(BigInt(n))) },
      {
        name: 'meta_completed.npy',
        bytes: arrEntry('|b1', [], Uint8Array.of(options.completed === false ? 0 : 1)),
      },
      {
        name: 'meta_landscape_idx.npy',
        bytes: arrEntry('<i8', [], BigInt64Array.of(BigInt(t.landscapeIdx))),
      },
    ];
    for (const [k, v] of Object.entries(t.meta)) {
      const name = `meta_${k}.npy`;
      if (entries.some((e) => e.name === name)) continue;
      if (typeof v === 'string') entries.push({ name, bytes: strEntry(v) });
      else if (typeof v === 'boolean')
        entries.push({ name, bytes: arrEntry('|b1', [], Uint8Array.of(v ? 1 : 0)) });
      else if (Number.isSafeInteger(v))
        entries.push({ name, bytes: arrEntry('<i8', [], BigInt64Array.of(BigInt(v))) });
      else entries.push({ name, bytes: arrEntry('<f8', [], Float64Array.of(v)) });
    }
    await writeZip(path, entries, compressionSettings(this.#opts.compression));
    if (options.clear === true) this.clear(id);
  }

  *#stateBytes(t: Trajectory, shape: number[]): Generator<Uint8Array> {
    yield npyHeader('<f4', shape);
    if (t.spool !== undefined && t.spooledBytes > 0) {
      const fd = openSync(t.spool, 'r');
      try {
        const buf = Buffer.alloc(4 * 1024 * 1024);
        let pos = 0;
        while (pos < t.spooledBytes) {
          const got = readSync(fd, buf, 0, Math.min(buf.length, t.spooledBytes - pos), pos);
          if (got === 0) break;
          pos += got;
          yield Uint8Array.from(buf.subarray(0, got));
        }
      } finally {
        closeSync(fd);
      }
    }
    for (const s of t.states) yield u8(s);
  }

  /** Forgets a trajectory (and deletes its spool file). */
  clear(id: string): void {
    const t = this.#get(id);
    if (t.spool !== undefined) rmSync(t.spool, { force: true });
    this.#trajs.delete(id);
  }

  /** Forgets every trajectory and removes the spool directory this logger created. */
  clearAll(): void {
    for (const id of [...this.#trajs.keys()]) this.clear(id);
    if (this.#spoolDir !== undefined && this.#opts.spoolDir === undefined) {
      rmSync(this.#spoolDir, { recursive: true, force: true });
      this.#spoolDir = undefined;
    }
  }
}
