import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';
import { XError } from './errors.js';
import { isTensorData, type State, type TensorData } from './state.js';

const LITTLE_ENDIAN = endianness() === 'LE';
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
 * SHA-256 (hex) over the canonical encoding of a state tree: object keys sorted; numbers as
 * float64 little-endian (one NaN pattern); strings as UTF-8 with a length prefix; tensors as
 * dtype, shape and little-endian bytes. Independent of time, paths and key insertion order, so
 * equal states give equal digests on any machine.
 *
 * @example
 * stateDigest({ step: 3, w: tensorData('float32', [2], [1, 2]) }); // '9f…'
 */
export function stateDigest(state: State): string {
  const hash = createHash('sha256');
  encode(hash, state, '');
  return hash.digest('hex');
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function encodeString(hash: Hash, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  hash.update(u64(bytes.length));
  hash.update(bytes);
}

function encode(hash: Hash, value: State, path: string): void {
  if (value === null) {
    hash.update(Uint8Array.of(TAG.null));
  } else if (typeof value === 'boolean') {
    hash.update(Uint8Array.of(value ? TAG.true : TAG.false));
  } else if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = TAG.number;
    b.writeDoubleLE(Number.isNaN(value) ? NaN : value, 1);
    hash.update(b);
  } else if (typeof value === 'string') {
    hash.update(Uint8Array.of(TAG.string));
    encodeString(hash, value);
  } else if (isTensorData(value)) {
    encodeTensor(hash, value);
  } else if (Array.isArray(value)) {
    hash.update(Uint8Array.of(TAG.array));
    hash.update(u64(value.length));
    value.forEach((v, i) => encode(hash, v, `${path}/${i}`));
  } else if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const keys = Object.keys(value).sort();
    hash.update(Uint8Array.of(TAG.object));
    hash.update(u64(keys.length));
    for (const k of keys) {
      encodeString(hash, k);
      encode(hash, value[k] as State, path === '' ? k : `${path}/${k}`);
    }
  } else {
    throw new XError(
      'STATE_MISMATCH',
      `${path || '<root>'}: value of type ${typeof value} is not a state leaf`,
    );
  }
}

function encodeTensor(hash: Hash, t: TensorData): void {
  hash.update(Uint8Array.of(TAG.tensor));
  encodeString(hash, t.dtype);
  hash.update(u64(t.shape.length));
  for (const d of t.shape) hash.update(u64(d));
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  hash.update(u64(bytes.length));
  hash.update(LITTLE_ENDIAN ? bytes : toLittleEndian(bytes, t.data.BYTES_PER_ELEMENT));
}

function toLittleEndian(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j] as number;
  }
  return out;
}
