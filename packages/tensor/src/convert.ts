import * as tf from '@tensorflow/tfjs-core';
import { XError, markImmutable, shapeSize, type TensorData } from '@x/core';

/** Options of {@link fromTensorData}. */
export interface FromTensorDataOptions {
  /** Accept float64 data and round it to float32 (tfjs has no float64). Default false. */
  allowDowncast?: boolean;
}

/**
 * Copies a tensor's values into a {@link TensorData} leaf (float32, int32 or bool). The copy is
 * independent of the tensor.
 */
export function toTensorData(t: tf.Tensor): TensorData {
  const Ctor = ARRAY_FOR[storedDtype(t, 'toTensorData')];
  const values = t.dataSync();
  // A memory copy when the backend hands back the dtype's array type, else a conversion.
  const data = values instanceof Ctor ? values.slice() : Ctor.from(values);
  return { dtype: t.dtype, shape: [...t.shape], data } as TensorData;
}

const ARRAY_FOR = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

/** The tensor's dtype if a {@link TensorData} leaf can hold it; `INVALID_INPUT` naming `fn` if not. */
function storedDtype(t: tf.Tensor, fn: string): keyof typeof ARRAY_FOR {
  if (t.dtype === 'complex64' || t.dtype === 'string')
    throw new XError('INVALID_INPUT', `${fn}: unsupported tensor dtype ${t.dtype}`);
  return t.dtype;
}

/**
 * {@link toTensorData} that reads the values asynchronously, as the `webgpu` backend needs in
 * Node (it has no synchronous reads there).
 */
export async function readTensorData(t: tf.Tensor): Promise<TensorData> {
  storedDtype(t, 'toTensorData');
  await t.data();
  // The backend keeps the values it just read, so the synchronous copy below reads no device.
  return toTensorData(t);
}

type Backend = tf.KernelBackend & {
  readSync(dataId: tf.DataId): unknown;
  incRef(dataId: tf.DataId): void;
  typedArrayFromHeap?: (t: tf.Tensor) => unknown;
};

/** Unpins what a snapshot pinned if its reader drops it without `releaseSnapshot`. */
const unpinLost = new FinalizationRegistry<tf.Tensor>((pin) => {
  if (!pin.isDisposed) pin.dispose();
});

/**
 * Keeps `t`'s storage alive (another reference to its data, as a variable holds) until the
 * returned function runs, so a view of it stays valid after the tensor is disposed or reassigned.
 */
function pin(t: tf.Tensor, backend: Backend, view: object): () => void {
  // kept: a tidy() around the snapshot must not end the pin.
  const held = tf.keep(
    tf
      .engine()
      .makeTensorFromTensorInfo({ dataId: t.dataId, shape: [...t.shape], dtype: t.dtype }, backend),
  );
  backend.incRef(t.dataId);
  unpinLost.register(view, held, held);
  return () => {
    unpinLost.unregister(held);
    held.dispose();
  };
}

/**
 * A tensor's values for a `Component.snapshot()`, without the copy {@link readTensorData} makes
 * where the backend allows; tfjs never writes a tensor's values after creating it. On `cpu`: the
 * tensor's own storage, marked immutable. On `wasm` with threads (a shared heap): a view of the
 * heap, with the storage pinned and marked immutable until `releaseSnapshot`. On single-threaded
 * `wasm`: a view valid only until the tensor is disposed (the heap may move when it grows; a
 * checkpoint copies it at once). Elsewhere: the values read from the device, which nobody else
 * holds, marked immutable.
 */
export async function snapshotTensorData(t: tf.Tensor): Promise<TensorData> {
  const dtype = storedDtype(t, 'snapshotTensorData');
  const shape = [...t.shape];
  const Ctor = ARRAY_FOR[dtype];
  const backend = (
    tf.engine().state.tensorInfo as unknown as WeakMap<object, { backend: Backend }>
  ).get(t.dataId)?.backend;
  let data: unknown;
  if (backend !== undefined && backend === tf.findBackend('cpu')) {
    data = backend.readSync(t.dataId);
    if (data instanceof Ctor) markImmutable(data);
  } else if (backend?.typedArrayFromHeap !== undefined) {
    data = backend.typedArrayFromHeap(t);
    if (data instanceof Ctor && data.length === t.size && data.buffer instanceof SharedArrayBuffer)
      markImmutable(data, pin(t, backend, data));
  } else {
    data = await t.data();
    if (data instanceof Ctor) markImmutable(data);
  }
  if (!(data instanceof Ctor) || data.length !== t.size) return await readTensorData(t);
  return { dtype, shape, data };
}

/**
 * Makes a tensor from a {@link TensorData} leaf. float32, int32 and bool map directly; uint8
 * becomes int32 (exact). float64 is rejected with `INVALID_INPUT` unless `allowDowncast`.
 */
export function fromTensorData(d: TensorData, options: FromTensorDataOptions = {}): tf.Tensor {
  const shape = [...d.shape];
  if (d.data.length !== shapeSize(shape)) {
    throw new XError(
      'INVALID_INPUT',
      `fromTensorData: shape [${shape.join(', ')}] needs ${shapeSize(shape)} elements, got ${d.data.length}`,
    );
  }
  // The wasm backend copies new values into its heap; the others keep the array they are given,
  // so those get a copy (a memory copy, not an element loop) and `d` stays the caller's.
  const copies = tf.getBackend() === 'wasm';
  switch (d.dtype) {
    case 'float32':
    case 'int32':
    case 'bool':
      return tf.tensor(copies ? d.data : d.data.slice(), shape, d.dtype);
    case 'uint8':
      return tf.tensor(Int32Array.from(d.data), shape, 'int32');
    case 'float64':
      if (options.allowDowncast === true)
        return tf.tensor(Float32Array.from(d.data), shape, 'float32');
      throw new XError(
        'INVALID_INPUT',
        `fromTensorData: float64 tensor [${shape.join(', ')}] cannot be loaded exactly (tfjs has no float64); pass { allowDowncast: true } to round to float32`,
      );
  }
}
