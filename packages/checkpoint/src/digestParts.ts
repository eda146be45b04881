import { XError, isTensorData, type State } from '@x/core';
import { tensorBytes } from './safetensors.js';

const TAG = {
  null: 0x6e,
  true: 0x74,
  false: 0x66,
  number: 0x64,
  string: 0x73,
  array: 0x61,
  object: 0x6f,
  tensor: 0x54,
};

/**
 * The canonical encoding that `stateDigest` (in `@x/core`) hashes, as an ordered list of byte
 * parts: the structure packed into small buffers and every tensor's bytes as a view of the
 * tensor itself (no copy on little-endian machines). SHA-256 over the parts in order equals
 * `stateDigest(state)`, so the digest can be computed in slices, on another thread, or while
 * the tensors are still being read.
 */
export function digestParts(state: State): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let small: number[] = [];
  const flush = () => {
    if (small.length > 0) parts.push(Uint8Array.from(small));
    small = [];
  };
  const bytes = (b: ArrayLike<number>) => {
    for (let i = 0; i < b.length; i++) small.push(b[i] as number);
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    bytes(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u64(b.length);
    bytes(b);
  };
  const encode = (value: State, path: string): void => {
    if (value === null) small.push(TAG.null);
    else if (typeof value === 'boolean') small.push(value ? TAG.true : TAG.false);
    else if (typeof value === 'number') {
      const b = Buffer.alloc(9);
      b[0] = TAG.number;
      b.writeDoubleLE(Number.isNaN(value) ? NaN : value, 1);
      bytes(b);
    } else if (typeof value === 'string') {
      small.push(TAG.string);
      str(value);
    } else if (isTensorData(value)) {
      small.push(TAG.tensor);
      str(value.dtype);
      u64(value.shape.length);
      for (const d of value.shape) u64(d);
      u64(value.data.byteLength);
      flush();
      parts.push(tensorBytes(value));
    } else if (Array.isArray(value)) {
      small.push(TAG.array);
      u64(value.length);
      value.forEach((v, i) => encode(v, `${path}/${i}`));
    } else if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
      const keys = Object.keys(value).sort();
      small.push(TAG.object);
      u64(keys.length);
      for (const k of keys) {
        str(k);
        encode(value[k] as State, path === '' ? k : `${path}/${k}`);
      }
    } else {
      throw new XError(
        'STATE_MISMATCH',
        `${path || '<root>'}: value of type ${typeof value} is not a state leaf`,
      );
    }
  };
  encode(state, '');
  flush();
  return parts;
}
