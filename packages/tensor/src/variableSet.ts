import * as tf from '@tensorflow/tfjs-core';
import { XError, isTensorData, type Component, type TensorData } from '@x/core';
import { fromTensorData, readTensorData, snapshotTensorData } from './convert.js';

/** Checks a `Record<name, TensorData>` against the expected shapes, naming the first bad leaf. */
export function assertTensorRecord(
  expected: ReadonlyMap<string, readonly number[]>,
  state: unknown,
  prefix: string,
): asserts state is Record<string, TensorData> {
  const at = (name: string) => (prefix === '' ? name : `${prefix}/${name}`);
  if (typeof state !== 'object' || state === null || Array.isArray(state) || isTensorData(state)) {
    throw new XError('STATE_MISMATCH', `${prefix || '<root>'}: expected an object of tensors`);
  }
  const rec = state as Record<string, unknown>;
  for (const [name, shape] of expected) {
    const d = rec[name];
    if (d === undefined)
      throw new XError('STATE_MISMATCH', `${at(name)}: missing`, { details: { path: at(name) } });
    if (!isTensorData(d)) {
      throw new XError(
        'STATE_MISMATCH',
        `${at(name)}: expected tensor float32[${shape.join(', ')}]`,
        {
          details: { path: at(name) },
        },
      );
    }
    if (d.dtype !== 'float32') {
      throw new XError('STATE_MISMATCH', `${at(name)}: expected dtype float32, got ${d.dtype}`, {
        details: { path: at(name) },
      });
    }
    if (d.shape.length !== shape.length || d.shape.some((s, i) => s !== shape[i])) {
      throw new XError(
        'STATE_MISMATCH',
        `${at(name)}: expected shape [${shape.join(', ')}], got [${d.shape.join(', ')}]`,
        { details: { path: at(name) } },
      );
    }
    if (d.data.length !== d.shape.reduce((a, b) => a * b, 1)) {
      throw new XError(
        'STATE_MISMATCH',
        `${at(name)}: data length ${d.data.length} does not match shape`,
        {
          details: { path: at(name) },
        },
      );
    }
  }
  for (const name of Object.keys(rec)) {
    if (!expected.has(name)) {
      throw new XError('STATE_MISMATCH', `${at(name)}: unexpected key`, {
        details: { path: at(name) },
      });
    }
  }
}

/**
 * Named model variables (names are state paths like `stem/kernel`), saved and restored as one
 * `Record<name, TensorData>`. Every variable is float32.
 *
 * @example
 * const params = new VariableSet();
 * params.add('fc/w', heNormal(rng.stream('init', 'fc/w'), [16, 8], 16));
 * const state = await params.getState(); // { 'fc/w': { dtype: 'float32', shape: [16, 8], data } }
 */
export class VariableSet implements Component<Record<string, TensorData>> {
  readonly #vars = new Map<string, tf.Variable>();

  constructor(vars: Record<string, tf.Variable> = {}) {
    for (const name of Object.keys(vars)) this.#vars.set(name, vars[name] as tf.Variable);
  }

  /** Adds a variable initialized from a copy of `init`; throws if the name is taken. */
  add(name: string, init: tf.Tensor | TensorData, trainable = true): tf.Variable {
    if (name === '' || this.#vars.has(name)) {
      throw new XError(
        'INVALID_INPUT',
        `VariableSet: ${name === '' ? 'empty name' : `duplicate variable '${name}'`}`,
      );
    }
    const v = tf.tidy(() => {
      const t = init instanceof tf.Tensor ? init : fromTensorData(init);
      if (t.dtype !== 'float32') {
        throw new XError(
          'INVALID_INPUT',
          `VariableSet: variable '${name}' must be float32, got ${t.dtype}`,
        );
      }
      return tf.variable(t.clone(), trainable);
    });
    this.#vars.set(name, v);
    return v;
  }

  /** The variable named `name`; throws `NOT_FOUND` naming it and the known names. */
  get(name: string): tf.Variable {
    const v = this.#vars.get(name);
    if (v === undefined) {
      throw new XError(
        'NOT_FOUND',
        `VariableSet: no variable '${name}' (have: ${this.names().join(', ') || 'none'})`,
      );
    }
    return v;
  }

  /** Whether a variable of that name exists. */
  has(name: string): boolean {
    return this.#vars.has(name);
  }

  /** All names, sorted. */
  names(): string[] {
    return [...this.#vars.keys()].sort();
  }

  /** Names of the trainable variables, sorted. */
  trainableNames(): string[] {
    return this.names().filter((n) => this.#vars.get(n)?.trainable === true);
  }

  /** The trainable variables in {@link names} order. */
  trainable(): tf.Variable[] {
    return this.trainableNames().map((n) => this.#vars.get(n) as tf.Variable);
  }

  /** All variables keyed by name (for `tf.variableGrads`-style code and loss functions). */
  record(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const n of this.names()) out[n] = this.#vars.get(n) as tf.Variable;
    return out;
  }

  /**
   * Value of `f` and its gradients with respect to the trainable variables it uses, keyed by
   * variable name (ready for {@link Adam.apply}). The caller disposes the returned tensors.
   */
  valueAndGrads(f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
    const names = this.trainableNames();
    const vars = names.map((n) => this.#vars.get(n) as tf.Variable);
    const { value, grads } = tf.variableGrads(f, vars);
    const out: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => {
      const g = grads[(vars[i] as tf.Variable).name];
      if (g !== undefined) out[n] = g;
    });
    return { value, grads: out };
  }

  /** Expected shape of every variable, by name. */
  shapes(): Map<string, readonly number[]> {
    return new Map(this.names().map((n) => [n, [...(this.#vars.get(n) as tf.Variable).shape]]));
  }

  /** Total number of scalar parameters. */
  size(): number {
    let total = 0;
    for (const v of this.#vars.values()) total += v.size;
    return total;
  }

  async getState(): Promise<Record<string, TensorData>> {
    return await this.#read(readTensorData);
  }

  /** The values without a copy where the backend allows (see `snapshotTensorData`). */
  async snapshot(): Promise<Record<string, TensorData>> {
    return await this.#read(snapshotTensorData);
  }

  async #read(read: (t: tf.Tensor) => Promise<TensorData>): Promise<Record<string, TensorData>> {
    const out: Record<string, TensorData> = {};
    for (const n of this.names()) out[n] = await read(this.#vars.get(n) as tf.Variable);
    return out;
  }

  setState(state: Record<string, TensorData>): void {
    assertTensorRecord(this.shapes(), state, '');
    for (const n of this.names()) {
      const v = this.#vars.get(n) as tf.Variable;
      tf.tidy(() => v.assign(fromTensorData(state[n] as TensorData)));
    }
  }

  /** Disposes every variable; the set is empty afterwards. */
  dispose(): void {
    for (const v of this.#vars.values()) v.dispose();
    this.#vars.clear();
  }
}
