import * as tf from '@tensorflow/tfjs-core';
import { XError, isTensorData, type Component, type Rng, type TensorData } from '@x/core';
import { glorotUniform, tanh as safeTanh, VariableSet, zeros, type Adam } from '@x/tensor';

/** Shape and output mapping of a {@link DtModel}. */
export interface DtModelOptions {
  inputs: number;
  hidden: number[];
  /** dt = τ·exp(raw) with raw = logEta0 + range·tanh(out/range); out = 0 at init gives η₀τ. */
  logEta0: number;
  range: number;
}

interface Layer {
  w: Float64Array;
  b: Float64Array;
  nIn: number;
  nOut: number;
}

/**
 * An MLP mapping features to the log step ratio `raw`, with `dt = τ·exp(raw)`. Parameters live
 * in a `VariableSet` (tfjs, float32) and the model is a `Component` over them; inference during
 * integration runs a float64 mirror of the weights in plain TypeScript (microseconds per call),
 * and training uses tfjs gradients of `Σ c_r raw_r` with coefficients `c_r = ∂L/∂raw_r` from the
 * float64 physics.
 */
/** Saved state of a {@link DtModel}: tensors by layer and leaf. */
export type ModelState = Record<string, Record<string, TensorData>>;

export class DtModel implements Component<ModelState> {
  readonly params = new VariableSet();
  readonly options: DtModelOptions;
  #mirror: Layer[] | undefined;

  constructor(options: DtModelOptions, rng: Rng) {
    this.options = options;
    const sizes = [options.inputs, ...options.hidden, 1];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const nIn = sizes[l] as number;
      const nOut = sizes[l + 1] as number;
      const last = l + 2 === sizes.length;
      this.params.add(
        `l${l}/w`,
        last
          ? zeros([nIn, nOut])
          : glorotUniform(rng.stream('init', `l${l}/w`), [nIn, nOut], nIn, nOut),
      );
      this.params.add(`l${l}/b`, zeros([nOut]));
    }
  }

  get layers(): number {
    return this.options.hidden.length + 1;
  }

  #weights(): Layer[] {
    if (this.#mirror === undefined) {
      this.#mirror = [];
      for (let l = 0; l < this.layers; l++) {
        const w = this.params.get(`l${l}/w`);
        this.#mirror.push({
          w: Float64Array.from(w.dataSync()),
          b: Float64Array.from(this.params.get(`l${l}/b`).dataSync()),
          nIn: w.shape[0],
          nOut: w.shape[1] as number,
        });
      }
    }
    return this.#mirror;
  }

  /** The log step ratio for one feature vector (float64 forward pass). */
  raw(input: ArrayLike<number>): number {
    if (input.length !== this.options.inputs) {
      throw new XError(
        'INVALID_INPUT',
        `DtModel: expected ${this.options.inputs} features, got ${input.length}`,
      );
    }
    let h: ArrayLike<number> = input;
    const layers = this.#weights();
    for (let l = 0; l < layers.length; l++) {
      const { w, b, nIn, nOut } = layers[l] as Layer;
      const out = new Float64Array(nOut);
      for (let o = 0; o < nOut; o++) {
        let acc = b[o] as number;
        for (let i = 0; i < nIn; i++) acc += (h[i] as number) * (w[i * nOut + o] as number);
        out[o] = l + 1 < layers.length ? Math.tanh(acc) : acc;
      }
      h = out;
    }
    const R = this.options.range;
    return this.options.logEta0 + R * Math.tanh((h[0] as number) / R);
  }

  #rawTensor(x: tf.Tensor2D): tf.Tensor {
    let h: tf.Tensor2D = x;
    for (let l = 0; l < this.layers; l++) {
      h = tf.add(
        tf.matMul(h, this.params.get(`l${l}/w`) as tf.Tensor2D),
        this.params.get(`l${l}/b`),
      );
      if (l + 1 < this.layers) h = safeTanh(h) as tf.Tensor2D;
    }
    const R = this.options.range;
    return tf.mul(safeTanh(tf.div(h, R)), R);
  }

  /**
   * One optimizer step on the surrogate `Σ_r c_r raw_r(θ)` (rows: feature vectors; `c_r`:
   * ∂L/∂raw_r from the float64 physics). Returns the gradient norm.
   */
  async update(
    optimizer: Adam,
    inputs: readonly Float64Array[],
    coeffs: readonly number[],
  ): Promise<number> {
    if (inputs.length === 0) return 0;
    const F = this.options.inputs;
    const flat = new Float32Array(inputs.length * F);
    inputs.forEach((row, r) => flat.set(row, r * F));
    const names = this.params.trainableNames();
    const vars = names.map((n) => this.params.get(n));
    const { grads, value } = tf.tidy(() => {
      const x = tf.tensor2d(flat, [inputs.length, F]);
      const c = tf.tensor2d(Float32Array.from(coeffs), [inputs.length, 1]);
      return tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(this.#rawTensor(x), c)), vars);
    });
    value.dispose();
    const byName: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => {
      byName[n] = grads[(vars[i] as tf.Variable).name] as tf.Tensor;
    });
    let norm: number;
    try {
      norm = await optimizer.apply(byName);
    } finally {
      for (const g of Object.values(grads)) g.dispose();
    }
    // Read the new weights now (asynchronously: webgpu has no synchronous reads in Node), so the
    // float64 mirror that inference uses can be rebuilt from the backend's host copy.
    for (const n of names) await this.params.get(n).data();
    this.#mirror = undefined;
    return norm;
  }

  /** State tree `{ l0: { w, b }, l1: … }` (leaf paths `l0/w`, as the checkpoint names them). */
  async getState(): Promise<ModelState> {
    return nestLayers(await this.params.getState());
  }

  /** The weights without a copy where the backend allows (see `Component.snapshot`). */
  async snapshot(): Promise<ModelState> {
    return nestLayers(await this.params.snapshot());
  }

  setState(state: ModelState): void {
    if (typeof state !== 'object' || state === null) {
      throw new XError('STATE_MISMATCH', '<root>: expected an object of layers');
    }
    const flat: Record<string, TensorData> = {};
    for (const [layer, leaves] of Object.entries(state)) {
      if (typeof leaves !== 'object' || leaves === null || isTensorData(leaves)) {
        throw new XError('STATE_MISMATCH', `${layer}: expected an object of tensors`, {
          details: { path: layer },
        });
      }
      for (const [leaf, t] of Object.entries(leaves)) flat[`${layer}/${leaf}`] = t;
    }
    this.params.setState(flat);
    this.#mirror = undefined;
  }

  dispose(): void {
    this.params.dispose();
  }
}

function nestLayers(flat: Record<string, TensorData>): ModelState {
  const out: ModelState = {};
  for (const [name, t] of Object.entries(flat)) {
    const [layer, leaf] = name.split('/') as [string, string];
    (out[layer] ??= {})[leaf] = t;
  }
  return out;
}
