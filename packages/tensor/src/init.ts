import { XError, shapeSize, tensorData, type Rng, type TensorData } from '@x/core';

function checkShape(shape: number[], what: string): number {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new XError('INVALID_INPUT', `${what}: invalid shape [${shape.join(', ')}]`);
  }
  return shapeSize(shape);
}

/**
 * He (Kaiming) normal init: N(0, 2/fanIn), drawn from `rng` in row-major order. Pass a named
 * stream (`rng.stream('init', name)`) so each variable's values depend only on its name.
 */
export function heNormal(rng: Rng, shape: number[], fanIn: number): TensorData<'float32'> {
  const n = checkShape(shape, 'heNormal');
  if (!(fanIn > 0))
    throw new XError('INVALID_INPUT', `heNormal: fanIn must be positive, got ${fanIn}`);
  const std = Math.sqrt(2 / fanIn);
  const out = tensorData('float32', shape);
  for (let i = 0; i < n; i++) out.data[i] = rng.normal(0, std);
  return out;
}

/** Glorot (Xavier) uniform init: U(-l, l) with l = √(6/(fanIn+fanOut)), drawn from `rng`. */
export function glorotUniform(
  rng: Rng,
  shape: number[],
  fanIn: number,
  fanOut: number,
): TensorData<'float32'> {
  const n = checkShape(shape, 'glorotUniform');
  if (!(fanIn + fanOut > 0)) {
    throw new XError(
      'INVALID_INPUT',
      `glorotUniform: fanIn + fanOut must be positive, got ${fanIn + fanOut}`,
    );
  }
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = tensorData('float32', shape);
  for (let i = 0; i < n; i++) out.data[i] = rng.uniform(-limit, limit);
  return out;
}

/** A float32 tensor of zeros. */
export function zeros(shape: number[]): TensorData<'float32'> {
  checkShape(shape, 'zeros');
  return tensorData('float32', shape);
}

/** A float32 tensor filled with `value`. */
export function constant(shape: number[], value: number): TensorData<'float32'> {
  const out = zeros(shape);
  out.data.fill(value);
  return out;
}
