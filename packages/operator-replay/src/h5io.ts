import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { XError } from '@x/core';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';

/** Element types stored by this package. */
export type RowDtype = 'float32' | 'float64' | 'int32' | 'uint8';

const H5_DTYPE: Record<RowDtype, string> = {
  float32: '<f',
  float64: '<d',
  int32: '<i',
  uint8: '<B',
};

/** A typed array for a row dtype. */
export type RowArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Allocates a typed array of the dtype. */
export function allocRows(dtype: RowDtype, length: number): RowArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint8':
      return new Uint8Array(length);
  }
}

let loaded: Promise<unknown> | undefined;

/** Loads the h5wasm module once. */
export async function h5ready(): Promise<void> {
  loaded ??= h5wasm.ready;
  await loaded;
}

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

function hasSignature(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      readSync(fd, buf, 0, 8, at);
      if (buf.equals(SIGNATURE)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Opens an HDF5 file on the real filesystem ('r', 'a' or 'w'); errors name the path. */
export function openH5(path: string, mode: 'r' | 'a' | 'w'): H5File {
  if (mode !== 'w' && !existsSync(path)) throw new XError('NOT_FOUND', `${path}: no such file`);
  if (mode !== 'w' && !hasSignature(path))
    throw new XError('INVALID_INPUT', `${path}: not an HDF5 file (no HDF5 signature)`);
  try {
    const f = new h5wasm.File(path, mode);
    if (f.file_id < 0n) throw new Error('could not open');
    return f;
  } catch (err) {
    throw new XError(
      'INVALID_INPUT',
      `${path}: not a readable HDF5 file (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
}

/** Creates a group path (intermediate groups too) and returns it. */
export function ensureGroup(root: Group, path: string): Group {
  let g = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    const existing = g.get(part);
    g = existing instanceof h5wasm.Group ? existing : g.create_group(part);
  }
  return g;
}

/**
 * Creates a chunked, gzip-compressed dataset of `rows` rows with the given trailing shape
 * (extensible along the first axis) at `path`.
 */
export function createRows(
  file: H5File,
  path: string,
  opts: { dtype: RowDtype; trailing: number[]; rows: number; chunkRows: number; gzip: number },
): Dataset {
  const slash = path.lastIndexOf('/');
  const group = ensureGroup(file, path.slice(0, slash));
  const name = path.slice(slash + 1);
  const rowSize = opts.trailing.reduce((a, b) => a * b, 1);
  const chunkRows = Math.max(1, Math.min(opts.chunkRows, Math.max(1, opts.rows)));
  const ds = group.create_dataset({
    name,
    data: allocRows(opts.dtype, 0),
    shape: [0, ...opts.trailing],
    maxshape: [null, ...opts.trailing],
    chunks: [chunkRows, ...opts.trailing.map((d) => Math.max(1, d))],
    dtype: H5_DTYPE[opts.dtype],
    ...(opts.gzip > 0 && rowSize > 0
      ? { compression: 'gzip' as const, compression_opts: opts.gzip }
      : {}),
  });
  if (opts.rows > 0) ds.resize([opts.rows, ...opts.trailing]);
  return ds;
}

/** Returns the dataset at `path` or throws an XError naming the file and path. */
export function getDataset(file: H5File, path: string): Dataset {
  const d = file.get(path);
  if (!(d instanceof h5wasm.Dataset))
    throw new XError('INVALID_INPUT', `${file.filename}: missing dataset ${path}`);
  return d;
}

/** Writes rows [start, start + count) of a dataset. */
export function writeRows(ds: Dataset, start: number, count: number, data: RowArray): void {
  if (count === 0) return;
  ds.write_slice([[start, start + count]], data);
}

/** Reads rows [start, end) of a dataset as a typed array (row-major). */
export function readRows(ds: Dataset, start: number, end: number): RowArray {
  const shape = ds.shape ?? [];
  const rows = shape[0] ?? 0;
  if (start < 0 || end > rows || start > end)
    throw new XError('INVALID_INPUT', `${ds.path}: rows ${start}..${end} outside 0..${rows}`);
  if (start === end) return new Float32Array(0);
  const out = ds.slice([[start, end]]);
  if (
    !ArrayBuffer.isView(out) ||
    out instanceof DataView ||
    out instanceof BigInt64Array ||
    out instanceof BigUint64Array
  )
    throw new XError(
      'INVALID_INPUT',
      `${ds.path}: unexpected element type ${JSON.stringify(ds.dtype)}`,
    );
  return out as RowArray;
}

/** Reads a string attribute, throwing an XError naming the file and attribute when missing. */
export function stringAttr(file: H5File, name: string): string {
  const a = file.attrs[name];
  const v = a?.value;
  if (typeof v !== 'string')
    throw new XError('INVALID_INPUT', `${file.filename}: missing attribute '${name}'`);
  return v;
}
