import * as tf from '@tensorflow/tfjs-core';
import { XError, type Component, type TensorData } from '@x/core';
import { fromTensorData, readTensorData, snapshotTensorData } from './convert.js';
import { assertTensorRecord, type VariableSet } from './variableSet.js';

/** Options of {@link Adam}; defaults beta1 0.9, beta2 0.999, epsilon 1e-8, no clipping. */
export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Scale all gradients down together when their global L2 norm exceeds this. */
  clipGlobalNorm?: number;
}

/** Saved state of {@link Adam}: step count and first/second moments by variable name. */
export interface AdamState {
  [key: string]: number | Record<string, TensorData>;
  step: number;
  m: Record<string, TensorData>;
  v: Record<string, TensorData>;
}

/**
 * Global L2 norm of a set of gradients (read back as one number), and the gradients scaled by
 * `min(1, maxNorm / norm)`. The returned tensors are new; the caller disposes them.
 */
export async function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ grads: Record<string, tf.Tensor>; norm: number }> {
  if (!(maxNorm > 0))
    throw new XError('INVALID_INPUT', `clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  const norm = await globalNorm(grads);
  const scale = norm > maxNorm ? maxNorm / norm : 1;
  const out: Record<string, tf.Tensor> = {};
  for (const name of Object.keys(grads).sort()) {
    const g = grads[name] as tf.Tensor;
    out[name] = scale === 1 ? g.clone() : tf.mul(g, scale);
  }
  return { grads: out, norm };
}

/** Global L2 norm of a set of tensors (summed in name order). */
export async function globalNorm(grads: Record<string, tf.Tensor>): Promise<number> {
  const names = Object.keys(grads).sort();
  if (names.length === 0) return 0;
  // Pairwise adds in name order, not addN: WebGPU binds each addN input as a storage buffer, and
  // adapters allow as few as 8 per shader.
  const total = tf.tidy(() =>
    names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor))).reduce((a, b) => tf.add(a, b)),
  );
  try {
    return Math.sqrt(((await total.data()) as Float32Array)[0] as number);
  } finally {
    total.dispose();
  }
}

/** Consecutive groups of names whose sizes add up to at most 4M values (a larger one alone). */
export function chunkNames(names: readonly string[], size: (name: string) => number): string[][] {
  const limit = 1 << 22;
  const chunks: string[][] = [];
  let current: string[] = [];
  let total = 0;
  for (const name of names) {
    const n = size(name);
    if (current.length > 0 && total + n > limit) {
      chunks.push(current);
      current = [];
      total = 0;
    }
    current.push(name);
    total += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Adam (Kingma & Ba) with bias correction, as in PyTorch: `p -= lr·m̂/(√v̂+ε)`. Variables
 * without a gradient in a call are left alone. Its state (step, m, v) is a `Component`.
 *
 * @example
 * const opt = new Adam(params, { learningRate: 1e-3, clipGlobalNorm: 1 });
 * const { grads } = tf.variableGrads(() => loss(params));
 * const norm = await opt.apply(grads);
 */
export class Adam implements Component<AdamState> {
  /** Learning rate used by the next {@link apply} (schedules may change it). */
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly clipGlobalNorm: number | undefined;
  readonly #params: VariableSet;
  readonly #m = new Map<string, tf.Tensor>();
  readonly #v = new Map<string, tf.Tensor>();
  #step = 0;

  constructor(params: VariableSet, options: AdamOptions) {
    this.#params = params;
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.clipGlobalNorm = options.clipGlobalNorm;
    const bad = (k: string, v: unknown) =>
      new XError('INVALID_INPUT', `Adam: ${k} out of range, got ${String(v)}`);
    if (!(this.learningRate >= 0)) throw bad('learningRate', this.learningRate);
    if (!(this.beta1 >= 0 && this.beta1 < 1)) throw bad('beta1', this.beta1);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw bad('beta2', this.beta2);
    if (!(this.epsilon > 0)) throw bad('epsilon', this.epsilon);
    if (this.clipGlobalNorm !== undefined && !(this.clipGlobalNorm > 0))
      throw bad('clipGlobalNorm', this.clipGlobalNorm);
    for (const name of params.trainableNames()) {
      const shape = params.get(name).shape;
      this.#m.set(name, tf.zeros(shape));
      this.#v.set(name, tf.zeros(shape));
    }
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.#step;
  }

  /** Applies gradients keyed by variable name; returns the global gradient norm before clipping. */
  async apply(grads: Record<string, tf.Tensor>): Promise<number> {
    const names = Object.keys(grads).sort();
    for (const name of names) {
      const m = this.#m.get(name);
      if (m === undefined) {
        throw new XError(
          'INVALID_INPUT',
          `Adam: gradient for '${name}', which is not a trainable variable`,
        );
      }
      const g = grads[name] as tf.Tensor;
      if (g.shape.length !== m.shape.length || g.shape.some((d, i) => d !== m.shape[i])) {
        throw new XError(
          'INVALID_INPUT',
          `Adam: gradient for '${name}' has shape [${g.shape.join(', ')}], variable has [${m.shape.join(', ')}]`,
        );
      }
    }
    // Gradients, moments and parameters in flat chunks of up to 4M values: ~20 kernels a chunk
    // instead of ~15 per variable (each kernel costs tens of µs of dispatch), and a bounded
    // extra heap for large models. The same elementwise float32 operations as one variable at a
    // time, so the same bits.
    const chunks = chunkNames(names, (n) => (grads[n] as tf.Tensor).size);
    const flat = (ts: tf.Tensor[]) =>
      ts.length === 1
        ? tf.reshape(ts[0] as tf.Tensor, [-1])
        : tf.concat(ts.map((t) => tf.reshape(t, [-1])));
    const gFlats = chunks.map((c) => tf.tidy(() => flat(c.map((n) => grads[n] as tf.Tensor))));
    try {
      let norm = 0;
      if (gFlats.length > 0) {
        const total = tf.tidy(() =>
          gFlats.map((g) => tf.sum(tf.square(g))).reduce((x, y) => tf.add(x, y)),
        );
        norm = Math.sqrt(((await total.data()) as Float32Array)[0] as number);
        total.dispose();
      }
      if (!Number.isFinite(norm)) {
        throw new XError(
          'NUMERICAL',
          `Adam: gradient norm is ${norm} at step ${this.#step + 1}; no update applied`,
        );
      }
      const scale =
        this.clipGlobalNorm !== undefined && norm > this.clipGlobalNorm
          ? this.clipGlobalNorm / norm
          : 1;
      this.#step += 1;
      const b1 = this.beta1;
      const b2 = this.beta2;
      const bc1 = 1 - b1 ** this.#step;
      const bc2 = 1 - b2 ** this.#step;
      const stepSize = this.learningRate / bc1;
      chunks.forEach((chunk, c) =>
        tf.tidy(() => {
          const vars = chunk.map((n) => this.#params.get(n));
          const gFlat = gFlats[c] as tf.Tensor;
          const g = scale === 1 ? gFlat : tf.mul(gFlat, scale);
          const oldM = flat(chunk.map((n) => this.#m.get(n) as tf.Tensor));
          const oldV = flat(chunk.map((n) => this.#v.get(n) as tf.Tensor));
          const m = tf.add(tf.mul(oldM, b1), tf.mul(g, 1 - b1));
          const v = tf.add(tf.mul(oldV, b2), tf.mul(tf.square(g), 1 - b2));
          const denom = tf.add(tf.sqrt(tf.div(v, bc2)), this.epsilon);
          const p = tf.sub(flat(vars), tf.mul(tf.div(m, denom), stepSize));
          let offset = 0;
          chunk.forEach((name, i) => {
            const variable = vars[i] as tf.Variable;
            const size = variable.size;
            const part = (t: tf.Tensor) =>
              tf.reshape(chunk.length === 1 ? t : tf.slice(t, [offset], [size]), variable.shape);
            this.#m.get(name)?.dispose();
            this.#v.get(name)?.dispose();
            this.#m.set(name, tf.keep(part(m)));
            this.#v.set(name, tf.keep(part(v)));
            variable.assign(part(p));
            offset += size;
          });
        }),
      );
      return norm;
    } finally {
      gFlats.forEach((g) => g.dispose());
    }
  }

  async getState(): Promise<AdamState> {
    return await this.#read(readTensorData);
  }

  /** The moments without a copy where the backend allows (see `snapshotTensorData`). */
  async snapshot(): Promise<AdamState> {
    return await this.#read(snapshotTensorData);
  }

  async #read(read: (t: tf.Tensor) => Promise<TensorData>): Promise<AdamState> {
    const m: Record<string, TensorData> = {};
    const v: Record<string, TensorData> = {};
    for (const name of [...this.#m.keys()].sort()) {
      m[name] = await read(this.#m.get(name) as tf.Tensor);
      v[name] = await read(this.#v.get(name) as tf.Tensor);
    }
    return { step: this.#step, m, v };
  }

  setState(state: AdamState): void {
    if (typeof state !== 'object' || state === null)
      throw new XError('STATE_MISMATCH', '<root>: expected an object');
    const step: unknown = state.step;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
      throw new XError(
        'STATE_MISMATCH',
        `step: expected a non-negative integer, got ${JSON.stringify(step)}`,
        {
          details: { path: 'step' },
        },
      );
    }
    const shapes = new Map([...this.#m].map(([n, t]) => [n, [...t.shape]] as const));
    assertTensorRecord(shapes, state.m, 'm');
    assertTensorRecord(shapes, state.v, 'v');
    for (const key of Object.keys(state)) {
      if (key !== 'step' && key !== 'm' && key !== 'v') {
        throw new XError('STATE_MISMATCH', `${key}: unexpected key`, { details: { path: key } });
      }
    }
    for (const name of shapes.keys()) {
      this.#m.get(name)?.dispose();
      this.#v.get(name)?.dispose();
      this.#m.set(name, fromTensorData(state.m[name] as TensorData));
      this.#v.set(name, fromTensorData(state.v[name] as TensorData));
    }
    this.#step = step;
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const t of [...this.#m.values(), ...this.#v.values()]) t.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}
