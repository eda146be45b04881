import fs, { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { XError, openFailure } from '@x/core';
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

/**
 * Runs an h5wasm call with HDF5's diagnostics (`HDF5-DIAG: …`, printed by the library on
 * stderr) captured instead of printed; returns the result, or throws with the captured text
 * as `diagnostics` for the caller's message.
 */
export function quietly<T>(fn: () => T): T {
  const stderr = process.stderr;
  const write = Object.getOwnPropertyDescriptor(stderr, 'write');
  let captured = '';
  const capture = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const cb = rest.find((r): r is () => void => typeof r === 'function');
    cb?.();
    return true;
  };
  Object.defineProperty(stderr, 'write', { value: capture, configurable: true, writable: true });
  // h5wasm's file system writes C's stderr straight to descriptor 2.
  const writeSync = fs.writeSync;
  fs.writeSync = ((fd: number, buffer: string | NodeJS.ArrayBufferView, ...rest: never[]) => {
    if (fd !== 2) return (writeSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
    const text =
      typeof buffer === 'string'
        ? buffer
        : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength).toString('utf8');
    const [offset, length] = rest as unknown as [number | undefined, number | undefined];
    captured +=
      typeof buffer === 'string' || offset === undefined
        ? text
        : Buffer.from(buffer.buffer, buffer.byteOffset + offset, length).toString('utf8');
    return typeof buffer === 'string' ? Buffer.byteLength(buffer) : (length ?? buffer.byteLength);
  }) as typeof fs.writeSync;
  try {
    return fn();
  } catch (err) {
    if (err !== null && typeof err === 'object')
      (err as { diagnostics?: string }).diagnostics = captured;
    throw err;
  } finally {
    fs.writeSync = writeSync;
    if (write === undefined) delete (stderr as { write?: unknown }).write;
    else Object.defineProperty(stderr, 'write', write);
  }
}

/** The most telling line of HDF5's diagnostics (the innermost error), or ''. */
function diagnosis(err: unknown): string {
  const text = (err as { diagnostics?: string } | null)?.diagnostics ?? '';
  const lines = text.split('\n').filter((l) => /^\s+#\d+:/.test(l));
  const last = lines.at(-1);
  if (last === undefined) return '';
  const m = /\): (.*)$/.exec(last);
  return (m?.[1] ?? last).trim();
}

function checkRegular(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openFailure(path, err, 'an HDF5 file');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new XError(
        'INVALID_INPUT',
        `${path}: ${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or special file'}, not a regular file (reading an HDF5 file)`,
      );
    const buf = Buffer.alloc(8);
    for (let at = 0; at + 8 <= st.size; at = at === 0 ? 512 : at * 2) {
      readSync(fd, buf, 0, 8, at);
      if (buf.equals(SIGNATURE)) return;
    }
    throw new XError(
      'INVALID_INPUT',
      `${path}: not an HDF5 file (no HDF5 signature${st.size === 0 ? '; the file is empty' : ''})`,
    );
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens an HDF5 file on the real filesystem ('r', 'a' or 'w'); errors name the path, and HDF5's
 * own diagnostics never reach the terminal (the innermost one is quoted in the message).
 */
export function openH5(path: string, mode: 'r' | 'a' | 'w'): H5File {
  if (mode !== 'w') checkRegular(path);
  try {
    return quietly(() => {
      const f = new h5wasm.File(path, mode);
      if (f.file_id < 0n) throw new Error('could not open');
      return f;
    });
  } catch (err) {
    const why = diagnosis(err);
    throw new XError(
      mode === 'w' ? 'ENVIRONMENT' : 'INVALID_INPUT',
      `${path}: ${mode === 'w' ? 'cannot create the HDF5 file' : 'not a readable HDF5 file'} (${why === '' ? (err as Error).message : why})`,
      { cause: err },
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
  let d: unknown;
  try {
    d = quietly(() => file.get(path));
  } catch (err) {
    throw new XError(
      'INVALID_INPUT',
      `${file.filename}: cannot read ${path} (${diagnosis(err) || (err as Error).message})`,
      { cause: err },
    );
  }
  if (!(d instanceof h5wasm.Dataset))
    throw new XError('INVALID_INPUT', `${file.filename}: missing dataset ${path}`);
  return d;
}

/** Writes rows [start, start + count) of a dataset. */
export function writeRows(ds: Dataset, start: number, count: number, data: RowArray): void {
  if (count === 0) return;
  ds.write_slice([[start, start + count]], data);
}

/** Largest single read of rows (the readers read chunk-sized batches). */
const MAX_READ_BYTES = 1 << 30;

/** Reads rows [start, end) of a dataset as a typed array (row-major). */
export function readRows(ds: Dataset, start: number, end: number, file = '<hdf5>'): RowArray {
  const shape = ds.shape ?? [];
  const rows = shape[0] ?? 0;
  if (start < 0 || end > rows || start > end)
    throw new XError(
      'INVALID_INPUT',
      `${file}: ${ds.path}: rows ${start}..${end} outside 0..${rows}`,
    );
  if (start === end) return new Float32Array(0);
  const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
  const bytes = (end - start) * rowElems * 8;
  if (bytes > MAX_READ_BYTES)
    throw new XError(
      'INVALID_INPUT',
      `${file}: ${ds.path}: rows ${start}..${end} of shape [${shape.join(', ')}] would take ${bytes} bytes, more than the ${MAX_READ_BYTES} read at once`,
    );
  let out: unknown;
  try {
    out = quietly(() => ds.slice([[start, end]]));
  } catch (err) {
    throw new XError(
      'INVALID_INPUT',
      `${file}: cannot read ${ds.path} rows ${start}..${end} (${diagnosis(err) || (err as Error).message})`,
      { cause: err },
    );
  }
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
