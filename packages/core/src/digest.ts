import { createHash } from 'node:crypto';
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
  for (const p of stateDigestParts(state)) hash.update(p);
  return hash.digest('hex');
}

/**
 * The canonical encoding {@link stateDigest} hashes, as ordered byte parts: the structure packed
 * into small buffers and each tensor's bytes as a view of the tensor itself (no copy on
 * little-endian machines). SHA-256 over the parts in order is the state digest, so it can be
 * computed in slices, on another thread, or while the tensors are still being read.
 *
 * @example
 * const h = createHash('sha256');
 * for (const p of stateDigestParts(state)) h.update(p);
 * h.digest('hex') === stateDigest(state); // true
 */
export function stateDigestParts(state: State): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let small: number[] = [];
  const out: Sink = {
    bytes: (b) => {
      for (let i = 0; i < b.length; i++) small.push(b[i] as number);
    },
    view: (b) => {
      if (small.length > 0) parts.push(Uint8Array.from(small));
      small = [];
      parts.push(b);
    },
  };
  encode(out, state, '');
  if (small.length > 0) parts.push(Uint8Array.from(small));
  return parts;
}

/** Where the encoding goes: small structural bytes (copied) and tensor bytes (viewed). */
interface Sink {
  bytes(b: ArrayLike<number>): void;
  view(b: Uint8Array): void;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function encodeString(out: Sink, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  out.bytes(u64(bytes.length));
  out.bytes(bytes);
}

function encode(out: Sink, value: State, path: string): void {
  if (value === null) {
    out.bytes([TAG.null]);
  } else if (typeof value === 'boolean') {
    out.bytes([value ? TAG.true : TAG.false]);
  } else if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = TAG.number;
    b.writeDoubleLE(Number.isNaN(value) ? NaN : value, 1);
    out.bytes(b);
  } else if (typeof value === 'string') {
    out.bytes([TAG.string]);
    encodeString(out, value);
  } else if (isTensorData(value)) {
    encodeTensor(out, value);
  } else if (Array.isArray(value)) {
    out.bytes([TAG.array]);
    out.bytes(u64(value.length));
    value.forEach((v, i) => encode(out, v, `${path}/${i}`));
  } else if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const keys = Object.keys(value).sort();
    out.bytes([TAG.object]);
    out.bytes(u64(keys.length));
    for (const k of keys) {
      encodeString(out, k);
      encode(out, value[k] as State, path === '' ? k : `${path}/${k}`);
    }
  } else {
    throw new XError(
      'STATE_MISMATCH',
      `${path || '<root>'}: value of type ${typeof value} is not a state leaf`,
    );
  }
}

function encodeTensor(out: Sink, t: TensorData): void {
  out.bytes([TAG.tensor]);
  encodeString(out, t.dtype);
  out.bytes(u64(t.shape.length));
  for (const d of t.shape) out.bytes(u64(d));
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  out.bytes(u64(bytes.length));
  out.view(LITTLE_ENDIAN ? bytes : toLittleEndian(bytes, t.data.BYTES_PER_ELEMENT));
}

function toLittleEndian(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j] as number;
  }
  return out;
}
