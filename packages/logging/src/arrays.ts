/**
 * Numeric data the logger accepts: a number, a boolean, a plain (possibly nested) array, a typed
 * array, or a tensor-like object with `dataSync()` (TensorFlow.js tensors; duck-typed, never
 * imported).
 */
export type NumericLike =
  | number
  | boolean
  | bigint
  | ArrayLike<number | boolean | bigint>
  | readonly NumericLike[]
  | TensorLike;

/** The part of a tensor the logger uses. */
export interface TensorLike {
  dataSync(): ArrayLike<number | boolean> | readonly string[];
  readonly shape?: readonly number[];
  arraySync?(): unknown;
}

/** Returns true for a tensor-like object (has `dataSync()`). */
export function isTensorLike(x: unknown): x is TensorLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { dataSync?: unknown }).dataSync === 'function'
  );
}

function pushFlat(x: unknown, out: number[]): boolean {
  if (typeof x === 'number') out.push(x);
  else if (typeof x === 'boolean') out.push(x ? 1 : 0);
  else if (typeof x === 'bigint') out.push(Number(x));
  else if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const a = x as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < a.length; i++) out.push(Number(a[i]));
  } else if (Array.isArray(x)) {
    for (const v of x as unknown[]) if (!pushFlat(v, out)) return false;
  } else if (isTensorLike(x)) {
    const d = x.dataSync();
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (typeof v === 'string') return false;
      out.push(typeof v === 'boolean' ? (v ? 1 : 0) : Number(v));
    }
  } else return false;
  return true;
}

/** Flattens numeric data into a fresh `Float64Array` (a copy); `undefined` when not numeric. */
export function toFloat64(x: unknown): Float64Array | undefined {
  if (x instanceof Float64Array) return x.slice();
  if (x instanceof Float32Array || x instanceof Int32Array || x instanceof Uint8Array) {
    return Float64Array.from(x);
  }
  const out: number[] = [];
  return pushFlat(x, out) ? Float64Array.from(out) : undefined;
}

/** Flattens numeric data into a fresh `Float32Array` (a deep copy). */
export function toFloat32(x: unknown): Float32Array | undefined {
  if (x instanceof Float32Array) return x.slice();
  if (x instanceof Float64Array) return Float32Array.from(x);
  if (isTensorLike(x)) {
    const d = x.dataSync();
    if (d instanceof Float32Array) return d.slice();
  }
  const f = toFloat64(x);
  return f === undefined ? undefined : Float32Array.from(f);
}

/** The shape of numeric data: a tensor's `shape`, a nested array's dimensions, `[n]` for typed arrays, `[]` for scalars. */
export function shapeOf(x: unknown): number[] {
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return [];
  if (isTensorLike(x)) return x.shape === undefined ? [x.dataSync().length] : [...x.shape];
  if (ArrayBuffer.isView(x)) return [(x as unknown as ArrayLike<number>).length];
  if (Array.isArray(x)) {
    const first: unknown = x[0];
    return x.length === 0 ? [0] : [x.length, ...shapeOf(first)];
  }
  return [];
}

/** A single number from a scalar, a 1-element array or tensor; `undefined` otherwise. */
export function toScalar(x: unknown): number | undefined {
  if (typeof x === 'number') return x;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'bigint') return Number(x);
  if (isTensorLike(x) || ArrayBuffer.isView(x) || Array.isArray(x)) {
    const f = toFloat64(x);
    return f !== undefined && f.length === 1 ? f[0] : undefined;
  }
  return undefined;
}

/** Element `i` of array-like data as a plain JS value (nested arrays for tensors' rows). */
export function elementAt(x: unknown, i: number): unknown {
  if (isTensorLike(x)) {
    if (typeof x.arraySync === 'function') return (x.arraySync() as unknown[])[i];
    const shape = x.shape ?? [x.dataSync().length];
    const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
    const d = x.dataSync() as ArrayLike<number>;
    return rowSize === 1 ? d[i] : Array.from({ length: rowSize }, (_, j) => d[i * rowSize + j]);
  }
  if (ArrayBuffer.isView(x)) return (x as unknown as ArrayLike<number>)[i];
  if (Array.isArray(x)) return x[i] as unknown;
  return undefined;
}

/** Population statistics of an array (like `numpy.mean/std/min/max`); NaN propagates. */
export interface ArrayStats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** mean/std/min/max of `a` (std is the population standard deviation). */
export function arrayStats(a: ArrayLike<number>): ArrayStats {
  const n = a.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let nan = false;
  for (let i = 0; i < n; i++) {
    const v = a[i] as number;
    if (Number.isNaN(v)) nan = true;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - mean;
    sq += d * d;
  }
  if (nan) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  return { mean, std: Math.sqrt(sq / n), min, max };
}
