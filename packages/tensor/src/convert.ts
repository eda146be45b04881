import * as tf from '@tensorflow/tfjs-core';
import { XError, shapeSize, type TensorData } from '@x/core';

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
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: Float32Array.from(t.dataSync() as Float32Array) };
    case 'int32':
      return { dtype: 'int32', shape, data: Int32Array.from(t.dataSync() as Int32Array) };
    case 'bool':
      return { dtype: 'bool', shape, data: Uint8Array.from(t.dataSync() as Uint8Array) };
    case 'complex64':
    case 'string':
      throw new XError('INVALID_INPUT', `toTensorData: unsupported tensor dtype ${t.dtype}`);
  }
}

/**
 * {@link toTensorData} that reads the values asynchronously, as the `webgpu` backend needs in
 * Node (it has no synchronous reads there).
 */
export async function readTensorData(t: tf.Tensor): Promise<TensorData> {
  if (t.dtype === 'complex64' || t.dtype === 'string')
    throw new XError('INVALID_INPUT', `toTensorData: unsupported tensor dtype ${t.dtype}`);
  await t.data();
  // The backend keeps the values it just read, so the synchronous copy below reads no device.
  return toTensorData(t);
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
  switch (d.dtype) {
    case 'float32':
      return tf.tensor(Float32Array.from(d.data), shape, 'float32');
    case 'int32':
      return tf.tensor(Int32Array.from(d.data), shape, 'int32');
    case 'uint8':
      return tf.tensor(Int32Array.from(d.data), shape, 'int32');
    case 'bool':
      return tf.tensor(Uint8Array.from(d.data), shape, 'bool');
    case 'float64':
      if (options.allowDowncast === true)
        return tf.tensor(Float32Array.from(d.data), shape, 'float32');
      throw new XError(
        'INVALID_INPUT',
        `fromTensorData: float64 tensor [${shape.join(', ')}] cannot be loaded exactly (tfjs has no float64); pass { allowDowncast: true } to round to float32`,
      );
  }
}
