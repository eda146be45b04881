import * as tf from '@tensorflow/tfjs-core';
import { XError, type Component, type TensorData } from '@x/core';
import { chunkNames } from './adam.js';
import { fromTensorData, readTensorData, snapshotTensorData } from './convert.js';
import { assertTensorRecord, type VariableSet } from './variableSet.js';

/**
 * Exponential moving average of a {@link VariableSet}'s variables (`shadow = decay·shadow +
 * (1-decay)·param`), starting from their current values. Its state is the shadow values.
 *
 * @example
 * const ema = new Ema(params, 0.999);
 * opt.apply(grads); ema.update();
 * ema.swapIn(); evaluate(params); ema.swapOut();
 */
export class Ema implements Component<Record<string, TensorData>> {
  readonly decay: number;
  readonly #params: VariableSet;
  readonly #shadow = new Map<string, tf.Tensor>();
  #stash: Map<string, tf.Tensor> | undefined;

  constructor(params: VariableSet, decay: number) {
    if (!(decay >= 0 && decay <= 1))
      throw new XError('INVALID_INPUT', `Ema: decay must be in [0, 1], got ${decay}`);
    this.#params = params;
    this.decay = decay;
    for (const name of params.names()) this.#shadow.set(name, params.get(name).clone());
  }

  /** Moves every shadow towards its variable's current value. */
  update(): void {
    if (this.#stash !== undefined)
      throw new XError('INTERNAL', 'Ema.update() while EMA weights are swapped in');
    // Flat chunks (see Adam.apply): 5 kernels and a slice per variable instead of 3 per variable;
    // the same elementwise operations, so the same bits.
    const names = [...this.#shadow.keys()];
    for (const chunk of chunkNames(names, (n) => (this.#shadow.get(n) as tf.Tensor).size)) {
      tf.tidy(() => {
        const flat = (ts: tf.Tensor[]) =>
          ts.length === 1
            ? tf.reshape(ts[0] as tf.Tensor, [-1])
            : tf.concat(ts.map((t) => tf.reshape(t, [-1])));
        const old = flat(chunk.map((n) => this.#shadow.get(n) as tf.Tensor));
        const p = flat(chunk.map((n) => this.#params.get(n)));
        const next = tf.add(tf.mul(old, this.decay), tf.mul(p, 1 - this.decay));
        let offset = 0;
        for (const name of chunk) {
          const prev = this.#shadow.get(name) as tf.Tensor;
          const part = chunk.length === 1 ? next : tf.slice(next, [offset], [prev.size]);
          offset += prev.size;
          this.#shadow.set(name, tf.keep(tf.reshape(part, prev.shape)));
          prev.dispose();
        }
      });
    }
  }

  /** Replaces the variables' values by the EMA values (keeping the originals for {@link swapOut}). */
  swapIn(): void {
    if (this.#stash !== undefined) throw new XError('INTERNAL', 'Ema.swapIn() called twice');
    const stash = new Map<string, tf.Tensor>();
    for (const [name, shadow] of this.#shadow) {
      const p = this.#params.get(name);
      stash.set(name, p.clone());
      p.assign(shadow);
    }
    this.#stash = stash;
  }

  /** Restores the values saved by {@link swapIn}. */
  swapOut(): void {
    const stash = this.#stash;
    if (stash === undefined) throw new XError('INTERNAL', 'Ema.swapOut() without swapIn()');
    for (const [name, saved] of stash) {
      this.#params.get(name).assign(saved);
      saved.dispose();
    }
    this.#stash = undefined;
  }

  /** Writes the EMA values into the same-named variables of `target`. */
  copyTo(target: VariableSet): void {
    for (const [name, shadow] of this.#shadow) target.get(name).assign(shadow);
  }

  async getState(): Promise<Record<string, TensorData>> {
    return await this.#read(readTensorData);
  }

  /** The averages without a copy where the backend allows (see `snapshotTensorData`). */
  async snapshot(): Promise<Record<string, TensorData>> {
    return await this.#read(snapshotTensorData);
  }

  async #read(read: (t: tf.Tensor) => Promise<TensorData>): Promise<Record<string, TensorData>> {
    const out: Record<string, TensorData> = {};
    for (const name of [...this.#shadow.keys()].sort())
      out[name] = await read(this.#shadow.get(name) as tf.Tensor);
    return out;
  }

  setState(state: Record<string, TensorData>): void {
    const shapes = new Map([...this.#shadow].map(([n, t]) => [n, [...t.shape]] as const));
    assertTensorRecord(shapes, state, '');
    for (const name of shapes.keys()) {
      this.#shadow.get(name)?.dispose();
      this.#shadow.set(name, fromTensorData(state[name] as TensorData));
    }
  }

  /** Frees the shadow tensors. */
  dispose(): void {
    for (const t of this.#shadow.values()) t.dispose();
    this.#shadow.clear();
  }
}
