import { XError } from './errors.js';

/** Element types a {@link TensorData} leaf may hold. */
export type DType = 'float32' | 'float64' | 'int32' | 'uint8' | 'bool';

/** The typed array that backs each {@link DType} (`bool` is stored as 0/1 bytes). */
export interface TypedArrayFor {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type AnyTypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A dense tensor leaf of a state tree: row-major `data` of `shape`. */
export interface TensorData<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayFor[D];
}

/** A serializable state tree: JSON values plus {@link TensorData} leaves. */
export type State = null | boolean | number | string | TensorData | State[] | StateObject;

/** An object node of a {@link State} tree. */
export interface StateObject {
  [key: string]: State;
}

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint8', 'bool'];

const ARRAY_CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

/** Bytes per element of a dtype. */
export function dtypeByteSize(dtype: DType): number {
  return ARRAY_CTORS[dtype].BYTES_PER_ELEMENT;
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Returns true when `value` is a {@link TensorData} leaf. */
export function isTensorData(value: unknown): value is TensorData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Partial<TensorData>;
  return (
    typeof v.dtype === 'string' &&
    Array.isArray(v.shape) &&
    ArrayBuffer.isView(v.data) &&
    (DTYPES as readonly string[]).includes(v.dtype)
  );
}

/**
 * Builds a {@link TensorData} leaf, copying `data` into a fresh typed array of the dtype and
 * checking that its length matches the shape.
 *
 * @example
 * const t = tensorData('float32', [2, 2], [1, 2, 3, 4]);
 */
export function tensorData<D extends DType>(
  dtype: D,
  shape: readonly number[],
  data?: ArrayLike<number>,
): TensorData<D> {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new XError('STATE_MISMATCH', `invalid tensor shape [${shape.join(', ')}]`);
    }
  }
  const size = shapeSize(shape);
  const Ctor = ARRAY_CTORS[dtype];
  const arr = data === undefined ? new Ctor(size) : Ctor.from(data);
  if (arr.length !== size) {
    throw new XError(
      'STATE_MISMATCH',
      `tensor of shape [${shape.join(', ')}] needs ${size} elements, got ${arr.length}`,
    );
  }
  return { dtype, shape: [...shape], data: arr as TypedArrayFor[D] };
}

/**
 * Like {@link tensorData}, but the typed array lives in a `SharedArrayBuffer`, so worker threads
 * can read it in place: a background checkpoint save copies such tensors on several threads at
 * once instead of on the caller's. Use it for large state a component keeps and hands out live.
 *
 * @example
 * const buffer = sharedTensorData('float32', [1 << 20]);
 */
export function sharedTensorData<D extends DType>(
  dtype: D,
  shape: readonly number[],
  data?: ArrayLike<number>,
): TensorData<D> {
  const t = tensorData(dtype, shape, data);
  const Ctor = ARRAY_CTORS[dtype] as unknown as new (b: SharedArrayBuffer) => TypedArrayFor[D];
  const arr = new Ctor(new SharedArrayBuffer(t.data.byteLength));
  (arr as unknown as { set(a: ArrayLike<number>): void }).set(t.data);
  return { dtype, shape: [...shape], data: arr };
}

const immutable = new WeakSet<ArrayBufferView>();
const releases = new WeakMap<ArrayBufferView, () => void>();

/**
 * Declares that the bytes of `data` never change from now on (a tfjs `cpu` tensor's storage, a
 * freshly read array nobody else holds), so readers of a component's `snapshot()` may keep it
 * without a copy. With `release`, only until the reader is done: `releaseSnapshot` (or a
 * captured snapshot's `release()`) calls it once (e.g. to unpin a tensor kept alive for the
 * reader). Returns `data`. Writing to a marked array before then breaks that promise.
 */
export function markImmutable<T extends ArrayBufferView>(data: T, release?: () => void): T {
  immutable.add(data);
  if (release !== undefined) releases.set(data, release);
  return data;
}

/** Whether `data` was marked with {@link markImmutable} (and not released since). */
export function isImmutable(data: ArrayBufferView): boolean {
  return immutable.has(data);
}

/**
 * Ends a reader's hold on a snapshot: calls the `release` of every array in `state` marked
 * immutable with one (once; they are no longer immutable afterwards). Other leaves are untouched.
 */
export function releaseSnapshot(state: State): void {
  for (const { value } of walkState(state)) {
    if (!isTensorData(value)) continue;
    const release = releases.get(value.data);
    if (release === undefined) continue;
    releases.delete(value.data);
    immutable.delete(value.data);
    release();
  }
}

/** Deep copy of a state tree; typed arrays are copied. */
export function cloneState<S extends State>(state: S): S {
  return cloneAny(state, '') as S;
}

function cloneAny(value: State, path: string): State {
  if (value === null || typeof value !== 'object') return value;
  if (isTensorData(value)) {
    return { dtype: value.dtype, shape: [...value.shape], data: value.data.slice() };
  }
  if (Array.isArray(value)) return value.map((v, i) => cloneAny(v, joinPath(path, String(i))));
  if (ArrayBuffer.isView(value)) {
    throw new XError(
      'STATE_MISMATCH',
      `${path || '<root>'}: bare typed array in state; wrap it with tensorData()`,
    );
  }
  const out: StateObject = {};
  for (const [k, v] of Object.entries(value)) setOwn(out, k, cloneAny(v, joinPath(path, k)));
  return out;
}

/** Sets an own enumerable property, also for keys like `__proto__` that plain assignment mishandles. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/** Joins state-tree path segments with `/` (the leaf naming used by checkpoints). */
export function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}/${key}`;
}

/** A visited leaf of a state tree. */
export interface StateLeaf {
  path: string;
  value: Exclude<State, State[] | StateObject> | TensorData;
}

/** Visits every leaf (scalar or tensor) of a state tree in key-sorted, depth-first order. */
export function* walkState(state: State, path = ''): Generator<StateLeaf> {
  if (state === null || typeof state !== 'object' || isTensorData(state)) {
    yield { path, value: state };
    return;
  }
  if (Array.isArray(state)) {
    for (let i = 0; i < state.length; i++)
      yield* walkState(state[i] as State, joinPath(path, String(i)));
    return;
  }
  for (const k of Object.keys(state).sort()) yield* walkState(state[k] as State, joinPath(path, k));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (isTensorData(value)) return `tensor ${value.dtype}[${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return 'bare typed array';
  return typeof value;
}

/** Options of {@link assertStateMatches}. */
export interface MatchOptions {
  /** Where the state comes from, prefixed to messages (e.g. a checkpoint path). */
  source?: string;
  /** When true (default) arrays must have the template's length. */
  strictArrays?: boolean;
}

/**
 * Checks that `state` has the tree shape of `template`: the same object keys, array lengths,
 * leaf kinds, and for tensors the same dtype and shape. Throws `STATE_MISMATCH` naming the first
 * leaf path that differs.
 */
export function assertStateMatches(
  template: State,
  state: unknown,
  options: MatchOptions = {},
): void {
  const problem = firstMismatch(template, state, '', options.strictArrays ?? true);
  if (problem !== undefined) {
    const where = options.source === undefined ? '' : `${options.source}: `;
    throw new XError('STATE_MISMATCH', `${where}${problem.path || '<root>'}: ${problem.reason}`, {
      details: { path: problem.path },
    });
  }
}

function firstMismatch(
  t: State,
  s: unknown,
  path: string,
  strictArrays: boolean,
): { path: string; reason: string } | undefined {
  const bad = (reason: string) => ({ path, reason });
  if (isTensorData(t)) {
    if (!isTensorData(s)) return bad(`expected ${describe(t)}, got ${describe(s)}`);
    if (s.dtype !== t.dtype) return bad(`expected dtype ${t.dtype}, got ${s.dtype}`);
    if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
      return bad(`expected shape [${t.shape.join(', ')}], got [${s.shape.join(', ')}]`);
    }
    if (s.data.length !== shapeSize(s.shape))
      return bad(`data length ${s.data.length} does not match shape`);
    return undefined;
  }
  if (t === null || typeof t !== 'object') {
    if (t === null) return s === null ? undefined : bad(`expected null, got ${describe(s)}`);
    if (typeof s !== typeof t) return bad(`expected ${typeof t}, got ${describe(s)}`);
    return undefined;
  }
  if (Array.isArray(t)) {
    if (!Array.isArray(s)) return bad(`expected array, got ${describe(s)}`);
    if (strictArrays && s.length !== t.length)
      return bad(`expected array of length ${t.length}, got ${s.length}`);
    if (!strictArrays) return undefined;
    for (let i = 0; i < t.length; i++) {
      const p = firstMismatch(t[i] as State, s[i], joinPath(path, String(i)), strictArrays);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof s !== 'object' || s === null || Array.isArray(s) || isTensorData(s)) {
    return bad(`expected object, got ${describe(s)}`);
  }
  const sObj = s as Record<string, unknown>;
  for (const k of Object.keys(t).sort()) {
    if (!(k in sObj)) return { path: joinPath(path, k), reason: 'missing' };
    const p = firstMismatch(t[k] as State, sObj[k], joinPath(path, k), strictArrays);
    if (p) return p;
  }
  for (const k of Object.keys(sObj).sort()) {
    if (!(k in t)) return { path: joinPath(path, k), reason: 'unexpected key' };
  }
  return undefined;
}

/** Returns true when two state trees are equal (tensors compared bytewise, NaN equal to NaN). */
export function statesEqual(a: State, b: State): boolean {
  if (isTensorData(a) || isTensorData(b)) {
    if (!isTensorData(a) || !isTensorData(b)) return false;
    if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
    if (a.shape.some((d, i) => d !== b.shape[i])) return false;
    const ba = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const bb = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    if (ba.length !== bb.length) return false;
    for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) return false;
    return true;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return Object.is(a, b) || a === b;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => statesEqual(v, b[i] as State));
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => statesEqual(a[k] as State, b[k] as State));
}
