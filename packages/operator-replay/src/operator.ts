import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@x/core';
import { fromTensorData, gelu, glorotUniform, groupNorm, heNormal } from '@x/tensor';
import { blockChannels, type OperatorParams } from './paramSpace.js';

interface ConvLayer {
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
}

interface Block {
  a: ConvLayer;
  b?: ConvLayer;
  skip?: ConvLayer;
}

function makeConv(
  rng: Rng,
  name: string,
  k: number,
  cin: number,
  cout: number,
  head = false,
): ConvLayer {
  const fanIn = k * k * cin;
  const kd = head
    ? glorotUniform(rng.stream(name, 'kernel'), [k, k, cin, cout], fanIn, cout)
    : heNormal(rng.stream(name, 'kernel'), [k, k, cin, cout], fanIn);
  const bound = 1 / Math.sqrt(fanIn);
  const br = rng.stream(name, 'bias');
  const bias = new Float32Array(cout);
  for (let i = 0; i < cout; i++) bias[i] = br.uniform(-bound, bound);
  return { kernel: fromTensorData(kd) as tf.Tensor4D, bias: tf.tensor1d(bias) };
}

function circularPad(x: tf.Tensor4D, p: number): tf.Tensor4D {
  if (p === 0) return x;
  const [, h, w] = x.shape;
  const rows = tf.concat(
    [tf.slice(x, [0, h - p, 0, 0], [-1, p, -1, -1]), x, tf.slice(x, [0, 0, 0, 0], [-1, p, -1, -1])],
    1,
  );
  return tf.concat(
    [
      tf.slice(rows, [0, 0, w - p, 0], [-1, -1, p, -1]),
      rows,
      tf.slice(rows, [0, 0, 0, 0], [-1, -1, p, -1]),
    ],
    2,
  );
}

function groupsFor(p: OperatorParams, channels: number): number {
  if (p.normalization === 'instance') return channels;
  return [4, 3, 2, 1].find((d) => channels % d === 0) ?? 1;
}

/**
 * A random CNN operator built from an architecture: input conv, `num_layers` blocks (residual
 * with two convs when there are more than 3, else conv–norm–GELU) of widths `base·2^min(i,2)`,
 * a noise block on the last hidden features, and a 1×1 output conv. Convolutions pad
 * circularly (periodic fields) and use the backend's direct `conv2d` kernel (inference only). Every weight comes from the operator's weights stream, one
 * named substream per layer (never `tf.random*`).
 */
export class OperatorNet {
  readonly params: OperatorParams;
  readonly channels: number;
  /** Width of the hidden features the noise block acts on. */
  readonly hiddenChannels: number;
  readonly #stem: ConvLayer;
  readonly #blocks: Block[];
  readonly #head: ConvLayer;

  constructor(params: OperatorParams, channels: number, weights: Rng) {
    this.params = params;
    this.channels = channels;
    const k = params.kernelSize;
    const widths = blockChannels(params);
    const residual = params.numLayers > 3;
    this.#stem = makeConv(weights, 'stem', k, channels, params.baseChannels);
    let cin = params.baseChannels;
    this.#blocks = widths.map((cout, i) => {
      const name = `block${i}`;
      const block: Block = { a: makeConv(weights, `${name}/a`, k, cin, cout) };
      if (residual) {
        block.b = makeConv(weights, `${name}/b`, k, cout, cout);
        if (cin !== cout) block.skip = makeConv(weights, `${name}/skip`, 1, cin, cout);
      }
      cin = cout;
      return block;
    });
    this.hiddenChannels = cin;
    this.#head = makeConv(weights, 'head', 1, cin, channels, true);
  }

  #conv(x: tf.Tensor4D, layer: ConvLayer): tf.Tensor4D {
    const p = (layer.kernel.shape[0] - 1) / 2;
    return tf.add(tf.conv2d(circularPad(x, p), layer.kernel, 1, 'valid'), layer.bias);
  }

  #norm(x: tf.Tensor4D): tf.Tensor4D {
    if (this.params.normalization === 'none') return x;
    return groupNorm(x, groupsFor(this.params, x.shape[3]));
  }

  #convBlock(x: tf.Tensor4D, layer: ConvLayer): tf.Tensor4D {
    return gelu(this.#norm(this.#conv(x, layer))) as tf.Tensor4D;
  }

  /**
   * One application O(x) for a batch of fields x [B, H, W, C]. `noise` [B, H, W, hidden] is the
   * unit-variance noise of each batch row and `amplitude` its scale at this step.
   */
  forward(x: tf.Tensor4D, noise: tf.Tensor4D | null, amplitude: number): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.#convBlock(x, this.#stem);
      for (const block of this.#blocks) {
        if (block.b === undefined) h = this.#convBlock(h, block.a);
        else {
          const inner = this.#norm(this.#conv(this.#convBlock(h, block.a), block.b));
          const skip = block.skip === undefined ? h : this.#conv(h, block.skip);
          h = gelu(tf.add(inner, skip)) as tf.Tensor4D;
        }
      }
      if (noise !== null && amplitude !== 0) {
        const scaled = tf.mul(noise, amplitude);
        h =
          this.params.noiseType === 'multiplicative'
            ? tf.mul(h, tf.add(1, scaled))
            : tf.add(h, scaled);
      }
      return this.#conv(h, this.#head);
    });
  }

  /** Frees the weight tensors. */
  dispose(): void {
    const layers = [this.#stem, this.#head, ...this.#blocks.flatMap((b) => [b.a, b.b, b.skip])];
    for (const l of layers) {
      if (l === undefined) continue;
      l.kernel.dispose();
      l.bias.dispose();
    }
  }
}
