import { XError } from '@x/core';

/** NumPy dtypes written and read here (`descr` without byte order). */
export type NpyDType = 'f4' | 'f8' | 'i4' | 'i8' | 'u1' | 'b1' | 'U';

/** An array as stored in a `.npy` file. Strings (`U`) are 0-d; `data` is then the string. */
export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | string;
}

function descr(a: NpyArray): string {
  switch (a.dtype) {
    case 'f4':
      return '<f4';
    case 'f8':
      return '<f8';
    case 'i4':
      return '<i4';
    case 'i8':
      return '<i8';
    case 'u1':
      return '|u1';
    case 'b1':
      return '|b1';
    case 'U':
      return `<U${Math.max(1, [...(a.data as string)].length)}`;
  }
}

function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * The NPY v1.0 header of an array with `descr` and `shape`: magic, version 1.0, little-endian
 * header length, the dict text padded with spaces and ended by `\n` so the data starts at a
 * multiple of 64 bytes.
 */
export function npyHeader(dtypeDescr: string, shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '${dtypeDescr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const text = dict + ' '.repeat(total - unpadded) + '\n';
  if (text.length > 0xffff) throw new XError('INVALID_INPUT', 'npy header too long for format 1.0');
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

/** The little-endian data bytes of an array (UTF-32LE for strings). */
export function npyData(a: NpyArray): Uint8Array {
  if (typeof a.data === 'string') {
    const cps = [...a.data].map((c) => c.codePointAt(0) as number);
    if (cps.length === 0) cps.push(0);
    return new Uint8Array(Uint32Array.from(cps).buffer);
  }
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

/** A complete `.npy` file. */
export function encodeNpy(a: NpyArray): Uint8Array {
  const h = npyHeader(descr(a), a.shape);
  const d = npyData(a);
  const out = new Uint8Array(h.length + d.length);
  out.set(h);
  out.set(d, h.length);
  return out;
}

/** Parses a `.npy` file (v1.0–3.0, little-endian, C order). */
export function decodeNpy(bytes: Uint8Array, source = '<npy>'): NpyArray {
  const bad = (why: string) => new XError('INVALID_INPUT', `${source}: ${why}`);
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY')
    throw bad('not an npy file');
  if (bytes.length < 12) throw bad(`truncated header (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > bytes.length)
    throw bad(`header declares ${hlen} bytes, the entry holds ${bytes.length - start}`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const d = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fo = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const sh = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (d === undefined || sh === undefined) throw bad(`unreadable header ${header.trim()}`);
  if (fo === 'True') throw bad('fortran_order arrays are not supported');
  const shape = sh
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0))
    throw bad(`invalid shape (${sh.trim()})`);
  const body = bytes.slice(start + hlen);
  const item = /^[<|=>]?[a-zA-Z](\d+)$/.exec(d)?.[1];
  if (item !== undefined) {
    const itemBytes = Number(item) * (d.includes('U') ? 4 : 1);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count * itemBytes !== body.length) {
      throw bad(
        `declares shape (${shape.join(', ')}) of ${d}, ${count * itemBytes} bytes, but holds ${body.length} bytes`,
      );
    }
  }
  const buf = body.buffer;
  const m = /^([<|=])([a-zA-Z])(\d+)$/.exec(d);
  if (m === null) throw bad(`unsupported dtype ${d}`);
  const [, order, kind, size] = m;
  if (order === '>') throw bad('big-endian arrays are not supported');
  const key = `${kind}${size}`;
  switch (key) {
    case 'f4':
      return { dtype: 'f4', shape, data: new Float32Array(buf) };
    case 'f8':
      return { dtype: 'f8', shape, data: new Float64Array(buf) };
    case 'i4':
      return { dtype: 'i4', shape, data: new Int32Array(buf) };
    case 'i8':
      return { dtype: 'i8', shape, data: new BigInt64Array(buf) };
    case 'u1':
      return { dtype: 'u1', shape, data: new Uint8Array(buf) };
    case 'b1':
      return { dtype: 'b1', shape, data: new Uint8Array(buf) };
    default:
      if (kind === 'U' && shape.length === 0) {
        const cps = Array.from(new Uint32Array(buf, 0, Number(size))).filter((c) => c !== 0);
        return { dtype: 'U', shape, data: String.fromCodePoint(...cps) };
      }
      throw bad(`unsupported dtype ${d}`);
  }
}
