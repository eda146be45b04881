import { XError, isTensorData, tensorData, type Component, type TensorData } from '@x/core';

/** Saved state of a {@link ReplayBuffer} (fixed-capacity arrays, so checkpoint shapes never change). */
export interface ReplayBufferState {
  [key: string]: number | TensorData;
  size: number;
  next: number;
  x: TensorData;
  v: TensorData;
  m: TensorData;
  history: TensorData;
  dt: TensorData;
}

/** One stored sample: a system state, its own history at that state, and the accepted dt. */
export interface ReplaySample {
  x: Float64Array;
  v: Float64Array;
  m: Float64Array;
  history: Float64Array;
  dt: number;
}

/**
 * A fixed-capacity ring of accepted Part-1 samples (state, dt and the history the model saw),
 * in float64. Each sample keeps its own history so replay featurizes it as it was collected.
 */
export class ReplayBuffer implements Component<ReplayBufferState> {
  readonly capacity: number;
  readonly N: number;
  readonly historySize: number;
  size = 0;
  next = 0;
  readonly x: Float64Array;
  readonly v: Float64Array;
  readonly m: Float64Array;
  readonly history: Float64Array;
  readonly dt: Float64Array;

  constructor(capacity: number, N: number, historySize: number) {
    this.capacity = capacity;
    this.N = N;
    this.historySize = historySize;
    this.x = new Float64Array(capacity * N * 3);
    this.v = new Float64Array(capacity * N * 3);
    this.m = new Float64Array(capacity * N);
    this.history = new Float64Array(capacity * historySize);
    this.dt = new Float64Array(capacity);
  }

  /** Stores a sample, overwriting the oldest when full. */
  push(
    x: ArrayLike<number>,
    v: ArrayLike<number>,
    m: ArrayLike<number>,
    history: ArrayLike<number>,
    dt: number,
  ): void {
    const i = this.next;
    const n3 = this.N * 3;
    this.x.set(x, i * n3);
    this.v.set(v, i * n3);
    this.m.set(m, i * this.N);
    this.history.set(history, i * this.historySize);
    this.dt[i] = dt;
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** A copy of sample `i` (0 ≤ i < size). */
  get(i: number): ReplaySample {
    if (!(i >= 0 && i < this.size))
      throw new XError(
        'INVALID_INPUT',
        `ReplayBuffer: index ${i} out of range 0..${this.size - 1}`,
      );
    const n3 = this.N * 3;
    return {
      x: this.x.slice(i * n3, (i + 1) * n3),
      v: this.v.slice(i * n3, (i + 1) * n3),
      m: this.m.slice(i * this.N, (i + 1) * this.N),
      history: this.history.slice(i * this.historySize, (i + 1) * this.historySize),
      dt: this.dt[i] as number,
    };
  }

  getState(): ReplayBufferState {
    const C = this.capacity;
    return {
      size: this.size,
      next: this.next,
      x: tensorData('float64', [C, this.N, 3], this.x),
      v: tensorData('float64', [C, this.N, 3], this.v),
      m: tensorData('float64', [C, this.N], this.m),
      history: tensorData('float64', [C, this.historySize], this.history),
      dt: tensorData('float64', [C], this.dt),
    };
  }

  setState(state: ReplayBufferState): void {
    const fail = (path: string, msg: string) =>
      new XError('STATE_MISMATCH', `${path}: ${msg}`, { details: { path } });
    if (typeof state !== 'object' || state === null) throw fail('<root>', 'expected an object');
    const n = state.size;
    if (!Number.isInteger(n) || n < 0 || n > this.capacity)
      throw fail('size', `expected an integer in 0..${this.capacity}, got ${String(n)}`);
    const next = state.next;
    if (!Number.isInteger(next) || next < 0 || next >= this.capacity)
      throw fail('next', `expected an integer in 0..${this.capacity - 1}, got ${String(next)}`);
    const C = this.capacity;
    const expect: [string, number[]][] = [
      ['x', [C, this.N, 3]],
      ['v', [C, this.N, 3]],
      ['m', [C, this.N]],
      ['history', [C, this.historySize]],
      ['dt', [C]],
    ];
    for (const [key, shape] of expect) {
      const t = state[key];
      if (!isTensorData(t) || t.dtype !== 'float64') throw fail(key, 'expected a float64 tensor');
      if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
        throw fail(key, `expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
      }
    }
    for (const k of Object.keys(state)) {
      if (!['size', 'next', ...expect.map((e) => e[0])].includes(k))
        throw fail(k, 'unexpected key');
    }
    this.size = n;
    this.next = next;
    for (const [key] of expect) {
      this[key as 'x'].set((state[key] as TensorData).data);
    }
  }
}
