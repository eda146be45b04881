import { endianness } from 'node:os';
import { XError, shapeSize, type DType, type TensorData } from '@x/core';
import { parseStrictJson, type JsonValue } from './strictJson.js';

/** Bits per element of every dtype of the safetensors spec. */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

/** The spec's cap on the JSON header length (bytes). */
export const MAX_HEADER_SIZE = 100_000_000;
const MAX_INT = 2 ** 48 - 1;
const LITTLE_ENDIAN = endianness() === 'LE';

const TO_SPEC: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_SPEC: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  I32: 'int32',
  U8: 'uint8',
  BOOL: 'bool',
};

/** One tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  name: string;
  /** The spec's dtype name, e.g. `F32`. */
  dtype: string;
  shape: number[];
  /** Byte range `[begin, end)` relative to the start of the data buffer. */
  begin: number;
  end: number;
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (the u64 prefix). */
  headerLength: number;
  /** Absolute file offset where the data buffer starts (`8 + headerLength`). */
  dataStart: number;
  metadata: Record<string, string>;
  /** Entries in data order. */
  tensors: SafetensorsEntry[];
}

/** Little-endian bytes of a tensor (a view when the machine is little-endian). */
export function tensorBytes(t: TensorData): Uint8Array {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (LITTLE_ENDIAN || t.data.BYTES_PER_ELEMENT === 1) return bytes;
  const w = t.data.BYTES_PER_ELEMENT;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += w)
    for (let j = 0; j < w; j++) out[i + j] = bytes[i + w - 1 - j] as number;
  return out;
}

/** The planned layout of a safetensors file: the header bytes (with the u64 prefix) and the data order. */
export interface SafetensorsLayout {
  header: Uint8Array;
  order: { name: string; tensor: TensorData }[];
  /** Total file size in bytes. */
  fileSize: number;
}

/**
 * Plans a spec-exact safetensors file: tensors ordered by descending element size, then name
 * (so every tensor is naturally aligned), contiguous offsets, and the JSON header space-padded
 * to a multiple of 8 bytes.
 */
export function planSafetensors(
  tensors: ReadonlyMap<string, TensorData> | Record<string, TensorData>,
  metadata: Record<string, string> = {},
): SafetensorsLayout {
  const entries: [string, TensorData][] =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, TensorData>).entries()]
      : Object.entries(tensors as Record<string, TensorData>);
  for (const [name, t] of entries) {
    if (name === '__metadata__') {
      throw new XError('INVALID_INPUT', "safetensors: '__metadata__' is not a tensor name");
    }
    if (shapeSize(t.shape) !== t.data.length) {
      throw new XError(
        'STATE_MISMATCH',
        `${name}: data length ${t.data.length} does not match shape [${t.shape.join(', ')}]`,
      );
    }
  }
  entries.sort(([an, a], [bn, b]) => {
    const d = b.data.BYTES_PER_ELEMENT - a.data.BYTES_PER_ELEMENT;
    return d !== 0 ? d : an < bn ? -1 : an > bn ? 1 : 0;
  });
  const head: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) head['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    head[name] = { dtype: TO_SPEC[t.dtype], shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return {
    header,
    order: entries.map(([name, tensor]) => ({ name, tensor })),
    fileSize: header.length + offset,
  };
}

/** Encodes tensors as one in-memory safetensors file. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, TensorData> | Record<string, TensorData>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const layout = planSafetensors(tensors, metadata);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.header, 0);
  let pos = layout.header.length;
  for (const { tensor } of layout.order) {
    out.set(tensorBytes(tensor), pos);
    pos += tensor.data.byteLength;
  }
  return out;
}

/**
 * Reads the u64 header length from the first 8 bytes and checks it against the spec's cap and
 * the file size, before anything of that size is allocated.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: file of ${fileSize} bytes is too small for a safetensors header`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: header length ${n} exceeds the cap of ${MAX_HEADER_SIZE} bytes`,
    );
  }
  const len = Number(n);
  if (len < 2) throw new XError('INVALID_INPUT', `${source}: header length ${len} is too small`);
  if (8 + len > fileSize) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: truncated: header length ${len} but the file has ${fileSize} bytes`,
    );
  }
  return len;
}

function bad(source: string, what: string): never {
  throw new XError('INVALID_INPUT', `${source}: ${what}`);
}

function intArray(v: JsonValue | undefined, what: string, source: string): number[] {
  if (!Array.isArray(v)) return bad(source, `${what} must be an array of integers`);
  return v.map((x) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_INT) {
      return bad(source, `${what} has an invalid entry ${JSON.stringify(x)}`);
    }
    return x;
  });
}

/**
 * Validates a safetensors JSON header (the `headerLength` bytes after the u64 prefix) against
 * the spec: starts with `{`, space padding only, no duplicate keys, known dtypes, byte sizes
 * matching shapes, contiguous offsets without overlaps or holes covering exactly the rest of a
 * file of `fileSize` bytes. Throws `INVALID_INPUT` prefixed by `source`.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileSize: number,
  source: string,
): SafetensorsHeader {
  if (json[0] !== 0x7b) bad(source, "header does not start with '{'");
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    return bad(source, 'header is not valid UTF-8');
  }
  const root = parseStrictJson(text, `${source} header`);
  if (root === null || typeof root !== 'object' || Array.isArray(root))
    bad(source, 'header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(root)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        bad(source, '__metadata__ must be an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') bad(source, `__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      bad(source, `${where} must be an object`);
    for (const k of Object.keys(raw)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets')
        bad(source, `${where} has unknown field '${k}'`);
    }
    const dtype = raw['dtype'];
    if (typeof dtype !== 'string') return bad(source, `${where} has no dtype`);
    const bits = SAFETENSORS_DTYPE_BITS[dtype];
    if (bits === undefined) bad(source, `${where} has unknown dtype ${JSON.stringify(dtype)}`);
    const shape = intArray(raw['shape'], `${where} shape`, source);
    const offsets = intArray(raw['data_offsets'], `${where} data_offsets`, source);
    if (offsets.length !== 2) bad(source, `${where} data_offsets must have 2 entries`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) bad(source, `${where} data_offsets end ${end} is before begin ${begin}`);
    let numel = 1;
    for (const d of shape) {
      numel *= d;
      if (numel > MAX_INT) bad(source, `${where} shape [${shape.join(', ')}] is too large`);
    }
    const nbits = numel * bits;
    if (nbits % 8 !== 0) bad(source, `${where} does not end on a byte boundary`);
    if (end - begin !== nbits / 8) {
      bad(
        source,
        `${where} occupies ${end - begin} bytes but dtype ${dtype} and shape [${shape.join(', ')}] need ${nbits / 8}`,
      );
    }
    tensors.push({ name, dtype, shape, begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of tensors) {
    if (t.begin < pos)
      bad(
        source,
        `tensor ${JSON.stringify(t.name)} overlaps the previous tensor (offset ${t.begin} < ${pos})`,
      );
    if (t.begin > pos)
      bad(
        source,
        `hole in the data buffer before tensor ${JSON.stringify(t.name)} (bytes ${pos}..${t.begin})`,
      );
    pos = t.end;
  }
  const dataStart = 8 + json.length;
  if (dataStart + pos !== fileSize) {
    bad(
      source,
      dataStart + pos > fileSize
        ? `truncated: tensors need ${dataStart + pos} bytes but the file has ${fileSize}`
        : `${fileSize - dataStart - pos} bytes after the last tensor are not indexed by the header`,
    );
  }
  return { headerLength: json.length, dataStart, metadata, tensors };
}

/** Decodes the tensor of an entry from its little-endian bytes into a fresh, aligned typed array. */
export function entryToTensorData(
  entry: SafetensorsEntry,
  bytes: Uint8Array,
  source: string,
): TensorData {
  const dtype = FROM_SPEC[entry.dtype];
  if (dtype === undefined) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: tensor ${JSON.stringify(entry.name)} has dtype ${entry.dtype}, which the state model does not support`,
    );
  }
  const numel = shapeSize(entry.shape);
  const data =
    dtype === 'float32'
      ? new Float32Array(numel)
      : dtype === 'float64'
        ? new Float64Array(numel)
        : dtype === 'int32'
          ? new Int32Array(numel)
          : new Uint8Array(numel);
  const view = new Uint8Array(data.buffer);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) view.set(bytes);
  else {
    const w = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += w)
      for (let j = 0; j < w; j++) view[i + j] = bytes[i + w - 1 - j] as number;
  }
  return { dtype, shape: entry.shape, data };
}

/**
 * A fresh typed array for an entry: `bytes` is where its little-endian file bytes go (the
 * array's own memory on little-endian machines), and `finish()` returns the tensor.
 */
export function allocateFor(
  entry: SafetensorsEntry,
  source: string,
): { bytes: Uint8Array; finish: () => TensorData } {
  const dtype = FROM_SPEC[entry.dtype];
  if (dtype === undefined) {
    throw new XError(
      'INVALID_INPUT',
      `${source}: tensor ${JSON.stringify(entry.name)} has dtype ${entry.dtype}, which the state model does not support`,
    );
  }
  if (!LITTLE_ENDIAN && dtype !== 'uint8' && dtype !== 'bool') {
    const bytes = new Uint8Array(entry.end - entry.begin);
    return { bytes, finish: () => entryToTensorData(entry, bytes, source) };
  }
  const numel = shapeSize(entry.shape);
  const raw = Buffer.allocUnsafeSlow(entry.end - entry.begin).buffer;
  const data =
    dtype === 'float32'
      ? new Float32Array(raw, 0, numel)
      : dtype === 'float64'
        ? new Float64Array(raw, 0, numel)
        : dtype === 'int32'
          ? new Int32Array(raw, 0, numel)
          : new Uint8Array(raw, 0, numel);
  return {
    bytes: new Uint8Array(raw, 0, entry.end - entry.begin),
    finish: () => ({ dtype, shape: entry.shape, data }),
  };
}

/** A decoded safetensors file. */
export interface DecodedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, TensorData>;
}

/** Decodes an in-memory safetensors file, validating it fully (see {@link parseSafetensorsHeader}). */
export function decodeSafetensors(file: Uint8Array, source = '<safetensors>'): DecodedSafetensors {
  const len = readHeaderLength(file, file.length, source);
  const header = parseSafetensorsHeader(file.subarray(8, 8 + len), file.length, source);
  const tensors = new Map<string, TensorData>();
  for (const e of header.tensors) {
    const bytes = file.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    tensors.set(e.name, entryToTensorData(e, bytes, source));
  }
  return { metadata: header.metadata, tensors };
}
