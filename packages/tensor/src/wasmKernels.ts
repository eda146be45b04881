import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

/**
 * tfjs saves a kernel's inputs for its gradient as clones, which the wasm backend's `Identity`
 * copies (a 384×384×5×5 kernel: 15 MB a conv). The cpu backend shares the data instead; so does
 * this (tensors are immutable; a variable's assign swaps its data).
 */
function sharedIdentity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * wasm's `Slice` reads its whole input into a fresh copy before cutting (`readSync`), so slicing
 * n parts of a flat buffer costs n full copies. A contiguous slice is one copy of the part here;
 * other slices go to the stock kernel.
 */
function contiguousSlice(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs['x'] as tf.TensorInfo;
    const attrs = args.attrs as unknown as { begin: number[]; size: number[] };
    const parsed = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    const begin = parsed[0] as number[];
    const size = parsed[1] as number[];
    if (x.dtype === 'string' || !tf.slice_util.isSliceContinous(x.shape, begin, size))
      return stock(args);
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(size, x.dtype);
    const offset = tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape));
    // Views taken after makeOutput, which may grow (and so replace) the wasm heap.
    const from = backend.typedArrayFromHeap(x);
    backend
      .typedArrayFromHeap(out)
      .set(from.subarray(offset, offset + tf.util.sizeFromShape(size)));
    return out;
  };
}

let done = false;

/** Replaces two wasm kernels by copy-free (Identity) and copy-once (contiguous Slice) versions. */
export function overrideWasmKernels(): void {
  if (done) return;
  const identity = tf.getKernel('Identity', 'wasm');
  const slice = tf.getKernel('Slice', 'wasm');
  if (identity === undefined || slice === undefined) return;
  done = true;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity });
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ ...slice, kernelFunc: contiguousSlice(slice.kernelFunc) });
}
