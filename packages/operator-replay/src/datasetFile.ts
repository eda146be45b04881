import { XError } from '@x/core';
import type { Dataset, File as H5File } from 'h5wasm/node';
import { configFromJson, configToJson, type DatasetConfig } from './datasetConfig.js';
import type { Environment } from './environment.js';
import type { FeatureFamily, TrajectoryShape } from './features.js';
import {
  createRows,
  getDataset,
  openH5,
  readRows,
  stringAttr,
  writeRows,
  type RowArray,
} from './h5io.js';
import { AtomicFile } from './atomicFile.js';
import { PARAMETER_NAMES } from './paramSpace.js';
import { SEED_SCHEME } from './seeds.js';

/** Format name and version written to every file. */
export const FILE_FORMAT = 'x-operator-replay';
export const FILE_FORMAT_VERSION = 1;

/** Dataset paths of the layout (see README). */
export const PATHS = {
  params: 'parameters/params',
  paramsF64: 'parameters/params_f64',
  index: 'operators/index',
  seed: 'operators/seed_sha256',
  hash: 'replay/trajectory_sha256',
  ic: 'inputs/fields',
} as const;

/** Which families a file holds: version and dataset names, per family. */
export type FeatureRegistry = Record<string, { version: number; datasets: string[] }>;

/** What a file's root attributes record. */
export interface DatasetHeader {
  config: DatasetConfig;
  /** Operators in the whole dataset (all shards). */
  totalOperators: number;
  shard: { index: number; count: number };
  /** Global index of the first operator in this file. */
  start: number;
  /** Operators in this file. */
  count: number;
  environment: Environment;
  featureRegistry: FeatureRegistry;
}

/** One operator's stored row. */
export interface OperatorRecord {
  index: number;
  unit: Float64Array;
  /** Seed digest (hex). */
  seed: string;
  ic: Float32Array;
  /** Trajectory SHA-256 (hex). */
  hash: string;
  features: Record<string, Record<string, Float32Array>>;
}

/** Trajectory shape [M, T, C, H, W] of a dataset. */
export function trajectoryShape(config: DatasetConfig): TrajectoryShape {
  const g = config.parameters.grid_size as { options: (number | string)[] };
  const grid = Number(g.options[0]);
  return [config.realizations, config.timesteps, config.channels, grid, grid];
}

function concat<T extends Float32Array | Float64Array | Uint8Array | Int32Array>(
  parts: T[],
  make: (n: number) => T,
): T {
  const out = make(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeHeader(f: H5File, h: DatasetHeader): void {
  const attrs: Record<string, string | number> = {
    format: FILE_FORMAT,
    format_version: FILE_FORMAT_VERSION,
    seed_scheme: SEED_SCHEME,
    dataset_id: h.config.datasetId,
    root_seed: String(h.config.rootSeed),
    total_operators: h.totalOperators,
    shard: `${h.shard.index}/${h.shard.count}`,
    index_start: h.start,
    index_count: h.count,
    config: configToJson(h.config),
    trajectory_shape: JSON.stringify(trajectoryShape(h.config)),
    backend: h.environment.backend,
    backend_package: h.environment.backendPackage,
    tfjs_version: h.environment.tfjsVersion,
    node_version: h.environment.nodeVersion,
    feature_registry: JSON.stringify(h.featureRegistry),
  };
  for (const [k, v] of Object.entries(attrs)) f.create_attribute(k, v);
}

/** Creates the datasets of a family under `/features/<name>` sized for `rows` operators. */
export function createFamilyDatasets(
  f: H5File,
  family: FeatureFamily,
  config: DatasetConfig,
  rows: number,
): string[] {
  return family.datasets(trajectoryShape(config)).map((spec) => {
    const ds = createRows(f, `features/${family.name}/${spec.name}`, {
      dtype: 'float32',
      trailing: spec.trailing,
      rows,
      chunkRows: config.chunkSize,
      gzip: config.gzipLevel,
    });
    ds.create_attribute('names', JSON.stringify(spec.names));
    ds.create_attribute('family_version', family.version);
    return spec.name;
  });
}

/** Writes a feature-only dataset file (one shard or the whole dataset), batch by batch. */
export class DatasetWriter {
  readonly header: DatasetHeader;
  readonly #file: H5File;
  readonly #families: FeatureFamily[];
  readonly #atomic: AtomicFile;
  #rows = 0;

  private constructor(
    file: H5File,
    header: DatasetHeader,
    families: FeatureFamily[],
    atomic: AtomicFile,
  ) {
    this.#file = file;
    this.header = header;
    this.#families = families;
    this.#atomic = atomic;
  }

  /**
   * Creates the file for `path` with the header and pre-sized datasets for `header.count` rows.
   * It is written beside `path` and replaces it only when {@link close} finds every row written:
   * an existing file survives any crash or error.
   */
  static create(
    path: string,
    header: Omit<DatasetHeader, 'featureRegistry'>,
    families: FeatureFamily[],
  ): DatasetWriter {
    const atomic = new AtomicFile(path);
    const f = openH5(atomic.tmp, 'w');
    const { config, count } = header;
    const [, , c, g] = trajectoryShape(config);
    const rows = (dtype: 'float32' | 'float64' | 'int32' | 'uint8', trailing: number[]) => ({
      dtype,
      trailing,
      rows: count,
      chunkRows: config.chunkSize,
      gzip: config.gzipLevel,
    });
    createRows(f, PATHS.params, rows('float32', [PARAMETER_NAMES.length])).create_attribute(
      'names',
      JSON.stringify(PARAMETER_NAMES),
    );
    createRows(f, PATHS.paramsF64, rows('float64', [PARAMETER_NAMES.length]));
    createRows(f, PATHS.index, rows('int32', []));
    createRows(f, PATHS.seed, rows('uint8', [32]));
    createRows(f, PATHS.hash, rows('uint8', [32]));
    createRows(f, PATHS.ic, rows('float32', [c, g, g]));
    const featureRegistry: FeatureRegistry = {};
    for (const fam of families)
      featureRegistry[fam.name] = {
        version: fam.version,
        datasets: createFamilyDatasets(f, fam, config, count),
      };
    const full = { ...header, featureRegistry };
    writeHeader(f, full);
    return new DatasetWriter(f, full, families, atomic);
  }

  /** Writes records to local rows [localStart, localStart + records.length). */
  writeBatch(localStart: number, records: OperatorRecord[]): void {
    const f = this.#file;
    const n = records.length;
    this.#rows += n;
    const get = (p: string) => getDataset(f, p);
    writeRows(
      get(PATHS.params),
      localStart,
      n,
      Float32Array.from(
        concat(
          records.map((r) => r.unit),
          (k) => new Float64Array(k),
        ),
      ),
    );
    writeRows(
      get(PATHS.paramsF64),
      localStart,
      n,
      concat(
        records.map((r) => r.unit),
        (k) => new Float64Array(k),
      ),
    );
    writeRows(get(PATHS.index), localStart, n, Int32Array.from(records.map((r) => r.index)));
    writeRows(
      get(PATHS.seed),
      localStart,
      n,
      concat(
        records.map((r) => Uint8Array.from(Buffer.from(r.seed, 'hex'))),
        (k) => new Uint8Array(k),
      ),
    );
    writeRows(
      get(PATHS.hash),
      localStart,
      n,
      concat(
        records.map((r) => Uint8Array.from(Buffer.from(r.hash, 'hex'))),
        (k) => new Uint8Array(k),
      ),
    );
    writeRows(
      get(PATHS.ic),
      localStart,
      n,
      concat(
        records.map((r) => r.ic),
        (k) => new Float32Array(k),
      ),
    );
    for (const fam of this.#families) {
      for (const name of this.header.featureRegistry[fam.name]?.datasets ?? []) {
        const parts = records.map((r) => {
          const v = r.features[fam.name]?.[name];
          if (v === undefined)
            throw new XError(
              'INTERNAL',
              `operator ${r.index}: family ${fam.name} gave no '${name}'`,
            );
          return v;
        });
        writeRows(
          get(`features/${fam.name}/${name}`),
          localStart,
          n,
          concat(parts, (k) => new Float32Array(k)),
        );
      }
    }
  }

  /** Writes raw rows of one dataset (used by merge). */
  writeRaw(path: string, localStart: number, count: number, data: RowArray): void {
    writeRows(getDataset(this.#file, path), localStart, count, data);
    if (path === PATHS.params) this.#rows += count;
  }

  /**
   * Flushes and closes the file; when every row was written it replaces the target, otherwise
   * (an error or a signal stopped the writing) it is removed and the target is untouched.
   * Returns true when the target was replaced.
   */
  close(): boolean {
    try {
      this.#file.flush();
      this.#file.close();
    } catch (err) {
      this.#atomic.discard();
      throw err;
    }
    if (this.#rows >= this.header.count) {
      this.#atomic.commit();
      return true;
    }
    this.#atomic.discard();
    return false;
  }
}

function numAttr(f: H5File, name: string): number {
  const v = f.attrs[name]?.value;
  if (typeof v !== 'number' && typeof v !== 'bigint')
    throw new XError('INVALID_INPUT', `${f.filename}: missing numeric attribute '${name}'`);
  return Number(v);
}

/** Reads the header of an open file, validating the format. */
export function readHeader(f: H5File): DatasetHeader {
  const where = f.filename;
  const format = f.attrs['format']?.value;
  if (format !== FILE_FORMAT)
    throw new XError(
      'INVALID_INPUT',
      `${where}: not an ${FILE_FORMAT} file (format attribute ${JSON.stringify(format)})`,
    );
  const version = numAttr(f, 'format_version');
  if (version !== FILE_FORMAT_VERSION)
    throw new XError(
      'INVALID_INPUT',
      `${where}: format version ${version}, this library reads ${FILE_FORMAT_VERSION}`,
    );
  const scheme = stringAttr(f, 'seed_scheme');
  if (scheme !== SEED_SCHEME)
    throw new XError(
      'INVALID_INPUT',
      `${where}: seed scheme '${scheme}', this library implements '${SEED_SCHEME}'`,
    );
  const config = configFromJson(stringAttr(f, 'config'), `${where} (attribute config)`);
  const [si, sn] = stringAttr(f, 'shard').split('/').map(Number);
  let featureRegistry: FeatureRegistry;
  try {
    featureRegistry = JSON.parse(stringAttr(f, 'feature_registry')) as FeatureRegistry;
  } catch (err) {
    throw new XError('INVALID_INPUT', `${where}: attribute feature_registry is not JSON`, {
      cause: err,
    });
  }
  return {
    config,
    totalOperators: numAttr(f, 'total_operators'),
    shard: { index: si ?? 0, count: sn ?? 1 },
    start: numAttr(f, 'index_start'),
    count: numAttr(f, 'index_count'),
    environment: {
      backend: stringAttr(f, 'backend'),
      backendPackage: stringAttr(f, 'backend_package'),
      tfjsVersion: stringAttr(f, 'tfjs_version'),
      nodeVersion: stringAttr(f, 'node_version'),
    },
    featureRegistry,
  };
}

/** Reads a dataset file: header and row ranges of every dataset. */
export class DatasetReader {
  readonly path: string;
  readonly header: DatasetHeader;
  readonly file: H5File;

  readonly #atomic: AtomicFile | undefined;

  private constructor(path: string, file: H5File, atomic: AtomicFile | undefined) {
    this.path = path;
    this.file = file;
    this.#atomic = atomic;
    this.header = readHeader(file);
    const rows = getDataset(file, PATHS.params).shape?.[0] ?? 0;
    if (rows < this.header.count)
      throw new XError(
        'INVALID_INPUT',
        `${path}: declares ${this.header.count} operators but ${PATHS.params} holds ${rows} rows`,
      );
  }

  /**
   * Opens `path` read-only ('r'), for changes in place ('a'), or ('update') as a copy beside it
   * that {@link commit} moves over `path`, so adding feature families never leaves a
   * half-written file (without `commit`, `close` removes the copy).
   */
  static open(path: string, mode: 'r' | 'a' | 'update' = 'r'): DatasetReader {
    if (mode === 'update') openH5(path, 'r').close();
    const atomic = mode === 'update' ? new AtomicFile(path, { copy: true }) : undefined;
    let f: H5File;
    try {
      f = openH5(atomic?.tmp ?? path, mode === 'r' ? 'r' : 'a');
    } catch (err) {
      atomic?.discard();
      throw err;
    }
    try {
      return new DatasetReader(path, f, atomic);
    } catch (err) {
      f.close();
      atomic?.discard();
      throw err;
    }
  }

  /** Flushes; for a file opened with 'update', closes and moves the copy over the file. */
  commit(): void {
    if (this.#atomic === undefined) {
      this.file.flush();
      return;
    }
    this.file.flush();
    this.file.close();
    this.#closed = true;
    this.#atomic.commit();
  }

  #closed = false;

  /** Number of operators in the file. */
  get count(): number {
    return this.header.count;
  }

  dataset(path: string): Dataset {
    return getDataset(this.file, path);
  }

  /** Rows [start, end) of a dataset as a typed array. */
  rows(path: string, start: number, end: number): ReturnType<typeof readRows> {
    return readRows(this.dataset(path), start, end, this.path);
  }

  /** Unit-cube values (float64, 14 per row) of rows [start, end); checks the float32 copy agrees. */
  units(start: number, end: number): Float64Array {
    const f64 = this.rows(PATHS.paramsF64, start, end) as Float64Array;
    const f32 = this.rows(PATHS.params, start, end);
    for (let i = 0; i < f64.length; i++) {
      if (Math.fround(f64[i] as number) !== f32[i])
        throw new XError(
          'INTEGRITY',
          `${this.path}: row ${start + Math.floor(i / 14)} parameter ${PARAMETER_NAMES[i % 14]}: float32 copy ${f32[i]} ≠ float64 value ${f64[i]}`,
        );
    }
    return f64;
  }

  /** Closes the file; a modified copy not committed is removed (the file is untouched). */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.file.close();
    }
    this.#atomic?.discard();
  }
}
