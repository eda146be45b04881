import * as tf from '@tensorflow/tfjs-core';
import { XError } from '@x/core';

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** `same` (zero padding, default), `valid` (no padding) or `circular` (wrap around, for periodic grids). */
  padding?: 'same' | 'valid' | 'circular';
}

function circularPad(x: tf.Tensor4D, ph: number, pw: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (ph > h || pw > w) {
    throw new XError(
      'INVALID_INPUT',
      `conv2d: circular padding ${ph}x${pw} exceeds input ${h}x${w}`,
    );
  }
  let y = x;
  if (ph > 0) {
    const top = tf.slice(y, [0, h - ph, 0, 0], [-1, ph, -1, -1]);
    const bottom = tf.slice(y, [0, 0, 0, 0], [-1, ph, -1, -1]);
    y = tf.concat([top, y, bottom], 1);
  }
  if (pw > 0) {
    const left = tf.slice(y, [0, 0, w - pw, 0], [-1, -1, pw, -1]);
    const right = tf.slice(y, [0, 0, 0, 0], [-1, -1, pw, -1]);
    y = tf.concat([left, y, right], 2);
  }
  return y;
}

const matMulOp: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = args[0] as tf.Tensor2D;
    const b = args[1] as tf.Tensor2D;
    (args[2] as tf.GradSaveFunc)([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        matMulOp(dy, tf.transpose(saved[1] as tf.Tensor)),
        matMulOp(tf.transpose(saved[0] as tf.Tensor), dy),
      ],
    };
  },
);

/**
 * `a·b` for 2-D tensors, with gradients (and gradients of gradients) computed as plain
 * untransposed products of explicitly transposed operands. Same values as `tf.matMul`; on the
 * wasm backend its backward pass is several times faster, because wasm's `BatchMatMul` is slow
 * with its transpose flags set, which is how tfjs's own matMul gradient calls it.
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new XError(
      'INVALID_INPUT',
      `matMul: cannot multiply [${a.shape.join(', ')}] by [${b.shape.join(', ')}]`,
    );
  }
  return matMulOp(a, b) as tf.Tensor2D;
}

/**
 * The kernel behind {@link conv2d}: the backend's own `Conv2D` kernel function registered under a
 * second name, so that it can carry its own gradient. tfjs computes an input's gradient only when
 * that input is on the path to what is differentiated, so ∇ₓ (sampling, IRED's inner ∇_y E)
 * costs one convolution per layer and the kernel gradient is only computed where a kernel is
 * differentiated (a `tf.customGrad` computes every input's gradient).
 */
const CONV_KERNEL = 'XConv2D';
const convBackends = new Set<string>();

function ensureConvKernel(): void {
  const backend = tf.getBackend();
  if (convBackends.has(backend)) return;
  const base = tf.getKernel('Conv2D', backend);
  if (base === undefined) {
    throw new XError('ENVIRONMENT', `conv2d: backend '${backend}' has no Conv2D kernel`);
  }
  tf.registerKernel({ ...base, kernelName: CONV_KERNEL });
  convBackends.add(backend);
}

/** Stride-1 convolution of `x` zero-padded by (ph, pw) on each side, without a padded copy. */
function convOp(x: tf.Tensor4D, w: tf.Tensor4D, ph: number, pw: number): tf.Tensor4D {
  ensureConvKernel();
  const attrs = {
    strides: [1, 1],
    pad:
      ph === 0 && pw === 0
        ? 'valid'
        : [
            [0, 0],
            [ph, ph],
            [pw, pw],
            [0, 0],
          ],
    dataFormat: 'NHWC',
    dilations: [1, 1],
  };
  const attrMap = attrs as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel<tf.Tensor4D>(CONV_KERNEL, { x, filter: w }, attrMap);
}

/** Flipped kernels by the data of the kernel they came from, inside {@link withConvCache}. */
let flipCache: Map<object, tf.Tensor4D> | undefined;

/**
 * The kernel `[kh, kw, cin, cout]` flipped in both spatial axes with its channel axes swapped,
 * `[kh, kw, cout, cin]`: a product with a `taps × taps` permutation matrix (exact; wasm's
 * `Reverse` and `GatherV2` take several times longer) and a transpose. Only used where no
 * gradient flows through it (inside {@link inputGrad}'s forward), so it needs none.
 */
function flipped(w: tf.Tensor4D): tf.Tensor4D {
  const hit = flipCache?.get(w.dataId);
  if (hit !== undefined) return hit;
  const [kh, kw, cin, cout] = w.shape;
  const taps = kh * kw;
  const out = tf.tidy(() => {
    const perm = new Float32Array(taps * taps);
    for (let i = 0; i < taps; i++) perm[i * taps + taps - 1 - i] = 1;
    const rows = tf.matMul(tf.tensor2d(perm, [taps, taps]), tf.reshape(w, [taps, cin * cout]));
    const swapped = tf.transpose(tf.reshape(rows, [taps, cin, cout]), [0, 2, 1]);
    return tf.reshape<tf.Rank.R4>(swapped, [kh, kw, cout, cin]);
  });
  if (flipCache !== undefined) flipCache.set(w.dataId, tf.keep(out));
  return out;
}

/**
 * Runs `fn` with the flipped kernels of conv2d's input gradients computed once per kernel and
 * freed when `fn` returns: a double-backprop loss (IRED) needs the same flip up to five times
 * per kernel. Gradients are unchanged. `fn` must not change a kernel's values.
 *
 * @example
 * const { value, grads } = withConvCache(() => tf.valueAndGrads(loss)(params));
 */
export function withConvCache<T>(fn: () => T): T {
  if (flipCache !== undefined) return fn();
  flipCache = new Map();
  try {
    return fn();
  } finally {
    for (const t of flipCache.values()) t.dispose();
    flipCache = undefined;
  }
}

/** ∂/∂w of Σ dy·conv(x, w): the input (batch and channels swapped) convolved with `dy` as kernel. */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, ph: number, pw: number): tf.Tensor4D {
  const xt = tf.transpose(x, [3, 1, 2, 0]);
  const dyt = tf.transpose(dy, [1, 2, 0, 3]);
  return tf.transpose(convOp(xt, dyt, ph, pw), [1, 2, 0, 3]);
}

type InputGrad = (dy: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
const inputGrads = new Map<string, InputGrad>();

/**
 * The input gradient of a convolution padded by (ph, pw): `dy` convolved with the flipped,
 * channel-swapped kernel. Its own gradients need no flip: with respect to `dy` the forward
 * convolution with `w`, and with respect to `w` {@link filterGrad}(g, dy), because flipping a
 * kernel gradient equals swapping its two operands.
 */
function inputGrad(ph: number, pw: number): InputGrad {
  const key = `${ph}x${pw}`;
  let op = inputGrads.get(key);
  if (op !== undefined) return op;
  const custom = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [dy, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([dy, w]);
    const [kh, kw] = w.shape;
    return {
      value: tf.tidy(() => convOp(dy, flipped(w), kh - 1 - ph, kw - 1 - pw)),
      gradFunc: (g: tf.Tensor, saved: tf.Tensor[]) => {
        const [dys, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g4 = g as tf.Tensor4D;
        return [convOp(g4, ws, ph, pw), filterGrad(g4, dys, ph, pw)];
      },
    };
  });
  op = (dy, w) => custom(dy, w);
  inputGrads.set(key, op);
  return op;
}

function paddingOf(attrs: tf.NamedAttrMap): [number, number] {
  const pad = attrs['pad'] as unknown;
  if (Array.isArray(pad)) {
    const p = pad as number[][];
    return [p[1]?.[0] ?? 0, p[2]?.[0] ?? 0];
  }
  return [0, 0];
}

/**
 * Gradients of {@link convOp} as {@link convOp}s again ({@link inputGrad}, {@link filterGrad}).
 * No `Conv2DBackpropInput`/`Conv2DBackpropFilter` kernels are needed, and gradients of any order
 * are correct because each gradient is built from this same kernel.
 */
tf.registerGradient({
  kernelName: CONV_KERNEL,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
    const d = dy as tf.Tensor4D;
    const [ph, pw] = paddingOf(attrs);
    return {
      x: () => inputGrad(ph, pw)(d, ws),
      filter: () => filterGrad(xs, d, ph, pw),
    };
  },
});

/**
 * 2-D convolution, stride 1, NHWC input and `[kh, kw, cin, cout]` kernel (odd kh, kw for
 * `same`/`circular`). The forward pass is the backend's native convolution; its gradients are
 * written as native forward convolutions again (flipped kernel for the input, swapped axes for
 * the kernel), so it trains on every backend — the wasm backend has no `Conv2DBackpropFilter` —
 * and supports gradients of gradients (IRED's loss on ∇ₓE). Values match `tf.conv2d`.
 *
 * @example
 * const y = conv2d(x, params.get('stem/kernel') as tf.Tensor4D, { padding: 'same' }); // [n, h, w, cout]
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, opts: Conv2dOptions = {}): tf.Tensor4D {
  const padding = opts.padding ?? 'same';
  const [, h, w, cin] = x.shape;
  const [kh, kw, kcin] = kernel.shape;
  if (kcin !== cin) {
    throw new XError(
      'INVALID_INPUT',
      `conv2d: kernel expects ${kcin} input channels, input has ${cin}`,
    );
  }
  if (padding !== 'valid' && (kh % 2 === 0 || kw % 2 === 0)) {
    throw new XError(
      'INVALID_INPUT',
      `conv2d: '${padding}' padding needs odd kernel sizes, got ${kh}x${kw}`,
    );
  }
  const ph = padding === 'valid' ? 0 : (kh - 1) / 2;
  const pw = padding === 'valid' ? 0 : (kw - 1) / 2;
  if (h + 2 * ph - kh + 1 <= 0 || w + 2 * pw - kw + 1 <= 0) {
    throw new XError('INVALID_INPUT', `conv2d: kernel ${kh}x${kw} larger than input ${h}x${w}`);
  }
  return tf.tidy(() =>
    padding === 'circular'
      ? convOp(circularPad(x, ph, pw), kernel, 0, 0)
      : convOp(x, kernel, ph, pw),
  );
}

/**
 * Fully connected layer `x·w + b` (x `[n, in]`, w `[in, out]`, b `[out]`).
 *
 * @example
 * const h = swish(dense(x, params.get('fc1/w'), params.get('fc1/b') as tf.Tensor1D));
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (x.shape[1] !== w.shape[0]) {
    throw new XError(
      'INVALID_INPUT',
      `dense: input has ${x.shape[1]} features, weight expects ${w.shape[0]}`,
    );
  }
  return tf.tidy(() => {
    const y = matMul(x, w);
    return b === undefined ? y : tf.add(y, b);
  });
}

/**
 * Group normalization over NHWC input: channels split into `groups`, each normalized over
 * (h, w, channels of the group), then scaled by `gamma` and shifted by `beta` (per channel).
 * Built from mean/sub/square/sqrt/div only, so it is safe for double backprop.
 */
export function groupNorm(
  x: tf.Tensor4D,
  groups: number,
  gamma?: tf.Tensor1D,
  beta?: tf.Tensor1D,
  eps = 1e-5,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(groups) || groups <= 0 || c % groups !== 0) {
    throw new XError(
      'INVALID_INPUT',
      `groupNorm: ${c} channels cannot be split into ${groups} groups`,
    );
  }
  return tf.tidy(() => {
    const g = tf.reshape(x, [n, h, w, groups, c / groups]);
    const mean = tf.mean(g, [1, 2, 4], true);
    const centered = tf.sub(g, mean);
    const variance = tf.mean(tf.square(centered), [1, 2, 4], true);
    let y: tf.Tensor = tf.reshape(tf.div(centered, tf.sqrt(tf.add(variance, eps))), [n, h, w, c]);
    if (gamma !== undefined) y = tf.mul(y, gamma);
    if (beta !== undefined) y = tf.add(y, beta);
    return y as tf.Tensor4D;
  });
}
