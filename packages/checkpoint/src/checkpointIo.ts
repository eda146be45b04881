import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { XError, type State, type TensorData } from '@x/core';
import { writeFailure } from './errors.js';
import { nodeFs, type FileLike, type FsOps } from './fsOps.js';
import { digestParts } from './digestParts.js';
import { digestOf, fileAndStateSha, sha256Of, sha256Parts } from './hashing.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_LIBRARY_VERSION,
  FILES,
  encodeMetrics,
  parseManifest,
  type Manifest,
} from './manifest.js';
import {
  allocateFor,
  parseSafetensorsHeader,
  planSafetensors,
  readHeaderLength,
  tensorBytes,
  type SafetensorsLayout,
} from './safetensors.js';
import { STATE_JSON_VERSION, joinState, splitState } from './stateTree.js';

const CHUNK = 32 << 20;
let tmpCounter = 0;

/** A state captured for saving. */
export interface CapturedCheckpoint {
  step: number;
  state: Record<string, State>;
  metrics: Record<string, number>;
  metadata: Record<string, unknown>;
  versions: Record<string, string>;
}

/** Settles every promise, then throws the first failure (so no write is left running). */
async function allOrFirstError(ps: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(ps)).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/**
 * Starts writing a planned safetensors file in one pass: every chunk's write is queued at once
 * (the thread pool copies them out). `written` settles when every write has (so the file can be
 * fsynced while its hash still runs over `parts`, the file's bytes in order).
 */
function writeLayout(
  f: FileLike,
  layout: SafetensorsLayout,
): { written: Promise<void>; parts: Uint8Array[] } {
  const parts = [layout.header, ...layout.order.map(({ tensor }) => tensorBytes(tensor))];
  const writes: Promise<void>[] = [];
  let pos = 0;
  for (const p of parts) {
    for (let off = 0; off < p.length; off += CHUNK)
      writes.push(f.write(p.subarray(off, Math.min(p.length, off + CHUNK)), pos + off));
    pos += p.length;
  }
  return { written: allOrFirstError(writes), parts };
}

/**
 * Writes (and fsyncs) a file with `fill` while hashes that `fill` starts keep running, then waits
 * for the hashes too: the disk flush overlaps the hashing. On a failure the hashes still settle
 * before it is thrown, so none is left reading the state.
 */
async function writeWhileHashing<T extends readonly Promise<string>[]>(
  fs: FsOps,
  path: string,
  fill: (f: FileLike) => { written: Promise<void>; hashes: T },
): Promise<{ [K in keyof T]: string }> {
  let hashes: T | undefined;
  try {
    await writeFile(fs, path, (f) => {
      const started = fill(f);
      hashes = started.hashes;
      for (const h of hashes) h.catch(() => undefined);
      return started.written;
    });
  } catch (err) {
    if (hashes !== undefined) await Promise.allSettled(hashes);
    throw err;
  }
  const started = hashes as T;
  await allOrFirstError(started);
  return Promise.all(started);
}

async function writeFile(
  fs: FsOps,
  path: string,
  fill: (f: FileLike) => Promise<void>,
): Promise<void> {
  const f = await fs.open(path, 'wx');
  try {
    await fill(f);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** Bytes a checkpoint of this state will take on disk (estimate for the free-space check). */
export function estimateCheckpointBytes(state: State): number {
  const { tensors } = splitState(state);
  let n = 64 << 10;
  for (const t of tensors.values()) n += t.data.byteLength + 128;
  return n;
}

/**
 * Writes `state.safetensors`, `state.json` and, last, `manifest.json` into `dir` (which must
 * exist and be empty), fsyncing every file. Returns the manifest.
 */
export async function writeCheckpointFiles(
  fs: FsOps,
  dir: string,
  c: CapturedCheckpoint,
): Promise<Manifest> {
  const { tree, tensors } = splitState(c.state);
  const layout = planSafetensors(tensors, { format: 'x-checkpoint' });
  const files: Manifest['files'] = {};
  const stateParts = digestParts(c.state);
  const tensorFile = writeWhileHashing(fs, join(dir, FILES.tensors), (f) => {
    const { written, parts } = writeLayout(f, layout);
    const both = fileAndStateSha(parts, stateParts);
    return { written, hashes: [both.then((h) => h[0]), both.then((h) => h[1])] as const };
  });
  const treeBytes = Buffer.from(
    `${JSON.stringify({ version: STATE_JSON_VERSION, tree })}\n`,
    'utf8',
  );
  // state.json is written and fsynced while the tensors are hashed; both settle before a throw.
  await allOrFirstError([
    tensorFile,
    writeFile(fs, join(dir, FILES.tree), (f) => f.write(treeBytes, 0)),
  ]);
  const [tensorSha, digest] = await tensorFile;
  files[FILES.tensors] = { size: layout.fileSize, sha256: tensorSha };
  files[FILES.tree] = {
    size: treeBytes.length,
    sha256: createHash('sha256').update(treeBytes).digest('hex'),
  };
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    step: c.step,
    createdAt: new Date().toISOString(),
    components: Object.keys(c.state).sort(),
    metrics: encodeMetrics(c.metrics),
    metadata: c.metadata,
    versions: {
      '@x/checkpoint': CHECKPOINT_LIBRARY_VERSION,
      node: process.versions.node,
      ...c.versions,
    },
    stateDigest: digest,
    files,
  };
  const mBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  await writeFile(fs, join(dir, FILES.manifest), (f) => f.write(mBytes, 0));
  await fs.syncDir(dir);
  return manifest;
}

async function readWhole(fs: FsOps, path: string, limit: number): Promise<Buffer> {
  const size = await fs.size(path);
  if (size > limit)
    throw new XError('INTEGRITY', `${path}: ${size} bytes is larger than expected (${limit})`);
  const f = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    const n = await f.read(buf, 0);
    if (n !== size) throw new XError('INTEGRITY', `${path}: short read (${n} of ${size} bytes)`);
    return buf;
  } finally {
    await f.close();
  }
}

/** A checkpoint read from disk and checked against its manifest. */
export interface LoadedCheckpoint {
  dir: string;
  manifest: Manifest;
  state: Record<string, State>;
}

function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface ReadTensors {
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
  sha256: string;
  /** SHA-256 of the parts `digest` returned, hashed while the tensors were read. */
  digest?: string;
}

/** Tensor chunk reads in flight at once: leaves libuv's pool (4 threads) room for the hash reads. */
const READS_IN_FLIGHT = 2;

/**
 * Runs `fn` over the items in order with at most `limit` calls in flight (item `i` starts once
 * item `i - limit` has settled); one promise per item.
 */
function limited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  const out: Promise<void>[] = [];
  items.forEach((item, i) => {
    const before = out[i - limit]?.catch(() => undefined) ?? Promise.resolve();
    out.push(before.then(() => fn(item)));
  });
  return out;
}

/**
 * Reads a safetensors file, each tensor into its own fresh array (at most two chunk reads in
 * flight), while the file's SHA-256 runs on the file hashing thread over a second read of the
 * file into that thread's reused ring slots: on some VMs the first user-space touch of freshly
 * read memory costs ~2 s/GB, which hashing the restored arrays themselves would pay on top of a
 * plain read; the page cache serves the second read for ~0.15 s/GB. With `digest` (called with
 * the tensors before their bytes arrive, on little-endian machines), the SHA-256 of the parts it
 * returns runs alongside on the digest thread, tensor bytes read from the file the same way.
 */
async function readTensors(
  fs: FsOps,
  path: string,
  expectedSize?: number,
  digest?: (tensors: Map<string, TensorData>) => Uint8Array[],
): Promise<ReadTensors> {
  const size = await fs.size(path);
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new XError('INTEGRITY', `${path}: size ${size} bytes, manifest says ${expectedSize}`);
  }
  const f = await fs.open(path, 'r');
  try {
    const prefix = new Uint8Array(8);
    await f.read(prefix, 0);
    const len = readHeaderLength(prefix, size, path);
    const json = new Uint8Array(len);
    if ((await f.read(json, 8)) !== len)
      throw new XError('INTEGRITY', `${path}: short read of the header`);
    const header = parseSafetensorsHeader(json, size, path);
    const tensors = new Map<string, TensorData>();
    const chunks: { bytes: Uint8Array; pos: number; name: string }[] = [];
    const targets = header.tensors.map((e) => {
      const target = allocateFor(e, path);
      for (let off = 0; off < target.bytes.length; off += CHUNK) {
        chunks.push({
          bytes: target.bytes.subarray(off, Math.min(target.bytes.length, off + CHUNK)),
          pos: header.dataStart + e.begin + off,
          name: e.name,
        });
      }
      return { e, target };
    });
    const readAt = async (into: Uint8Array, pos: number, what: string) => {
      if ((await f.read(into, pos)) !== into.length)
        throw new XError('INTEGRITY', `${path}: short read in ${what}`);
    };
    for (const { e, target } of targets) tensors.set(e.name, target.finish());
    const inPlace = targets.every(
      ({ e, target }) => tensors.get(e.name)?.data.buffer === target.bytes.buffer,
    );
    const parts = digest !== undefined && inPlace ? digest(tensors) : undefined;
    const reads = limited(chunks, READS_IN_FLIGHT, (c) =>
      readAt(c.bytes, c.pos, `tensor ${JSON.stringify(c.name)}`),
    );
    const fromFile = (into: Uint8Array, pos: number) => readAt(into, pos, 'the file');
    const fileSha = sha256Of('file', (sink) => sink.read(0, size, fromFile), size);
    fileSha.catch(() => undefined);
    const placeOf = new Map<ArrayBufferLike, { pos: number; length: number }>();
    for (const { e, target } of targets) {
      placeOf.set(target.bytes.buffer, {
        pos: header.dataStart + e.begin,
        length: target.bytes.length,
      });
    }
    const partsSha = (ps: Uint8Array[]) => {
      let n = 0;
      for (const p of ps) n += p.length;
      return sha256Of(
        'digest',
        async (sink) => {
          for (const p of ps) {
            const place = p.length > 0 ? placeOf.get(p.buffer) : undefined;
            if (place === undefined) await sink.update(p);
            else await sink.read(place.pos, place.length, fromFile);
          }
        },
        n,
      );
    };
    const digestSha = parts === undefined ? undefined : partsSha(parts);
    digestSha?.catch(() => undefined);
    try {
      const [sha256, digestHex] = await Promise.all([fileSha, digestSha, ...reads]);
      if (!inPlace) for (const { e, target } of targets) tensors.set(e.name, target.finish());
      return { tensors, metadata: header.metadata, sha256, digest: digestHex };
    } finally {
      await Promise.allSettled([fileSha, digestSha, ...reads]);
    }
  } finally {
    await f.close();
  }
}

/** Options of {@link loadCheckpoint}. */
export interface LoadOptions {
  /**
   * Also recompute the state digest of the loaded state and compare it with the manifest's
   * (default false: the digest is a function of the two files, whose sizes and SHA-256 are
   * always checked, so corruption is caught without a second hashing pass).
   */
  verifyDigest?: boolean;
}

/**
 * Reads a checkpoint directory and checks it: the manifest, every file's size and SHA-256 (hashed
 * on a worker while the chunks land), the safetensors structure and the tree in `state.json`;
 * with `verifyDigest`, also the state digest. Throws `INTEGRITY` (or `INVALID_INPUT` for a newer
 * format) naming the file and what differs.
 */
export async function loadCheckpoint(
  fs: FsOps,
  dir: string,
  options: LoadOptions = {},
): Promise<LoadedCheckpoint> {
  const mPath = join(dir, FILES.manifest);
  let manifest: Manifest;
  try {
    manifest = parseManifest((await readWhole(fs, mPath, 16 << 20)).toString('utf8'), mPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new XError('INTEGRITY', `${mPath}: missing`, { cause: err });
    throw err;
  }
  const need = (name: string) => {
    const f = manifest.files[name];
    if (f === undefined) throw new XError('INTEGRITY', `${mPath}: no entry for ${name}`);
    return f;
  };
  const wrap = async <T>(path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof XError && err.code === 'INTEGRITY') throw err;
      throw new XError('INTEGRITY', `${path}: ${describeErr(err)}`, { cause: err });
    }
  };
  const jPath = join(dir, FILES.tree);
  const jInfo = need(FILES.tree);
  const jBytes = await wrap(jPath, () => readWhole(fs, jPath, Math.max(jInfo.size, 0)));
  const jSha = createHash('sha256').update(jBytes).digest('hex');
  if (jBytes.length !== jInfo.size || jSha !== jInfo.sha256) {
    throw new XError(
      'INTEGRITY',
      `${jPath}: size ${jBytes.length} / SHA-256 ${jSha} do not match the manifest (${jInfo.size} / ${jInfo.sha256})`,
    );
  }
  const doc = await wrap(jPath, () => {
    const d = JSON.parse(jBytes.toString('utf8')) as { version?: unknown; tree?: unknown };
    if (d.version !== STATE_JSON_VERSION)
      throw new Error(`unsupported state.json version ${String(d.version)}`);
    return Promise.resolve(d);
  });
  const build = (tensors: Map<string, TensorData>): State => {
    let s: State;
    try {
      s = joinState(doc.tree, tensors, jPath);
    } catch (err) {
      throw new XError('INTEGRITY', `${jPath}: ${describeErr(err)}`, { cause: err });
    }
    if (s === null || typeof s !== 'object' || Array.isArray(s)) {
      throw new XError(
        'INTEGRITY',
        `${jPath}: the root of the state tree is not an object of components`,
      );
    }
    return s;
  };
  const tPath = join(dir, FILES.tensors);
  const tInfo = need(FILES.tensors);
  let state: State | undefined;
  const read = await wrap(tPath, () =>
    readTensors(
      fs,
      tPath,
      tInfo.size,
      options.verifyDigest === true
        ? (tensors) => digestParts((state = build(tensors)))
        : undefined,
    ),
  );
  if (read.sha256 !== tInfo.sha256) {
    throw new XError(
      'INTEGRITY',
      `${tPath}: SHA-256 ${read.sha256} does not match the manifest (${tInfo.sha256})`,
    );
  }
  state ??= build(read.tensors);
  if (options.verifyDigest !== true)
    return { dir, manifest, state: state as Record<string, State> };
  const digest = read.digest ?? (await digestOf(state));
  if (digest !== manifest.stateDigest) {
    throw new XError(
      'INTEGRITY',
      `${dir}: state digest ${digest} does not match the manifest (${manifest.stateDigest})`,
    );
  }
  return { dir, manifest, state: state as Record<string, State> };
}

/**
 * Reads and validates a safetensors file (see `parseSafetensorsHeader`), each tensor into its own
 * aligned typed array. Returns the tensors by name, the `__metadata__` map and the file's SHA-256.
 */
export async function readSafetensorsFile(
  path: string,
  fs: FsOps = nodeFs,
): Promise<{ tensors: Map<string, TensorData>; metadata: Record<string, string>; sha256: string }> {
  return readTensors(fs, path);
}

/**
 * Writes tensors as a spec-exact safetensors file atomically (temporary file, fsync, rename,
 * fsync of the directory). Returns the file's size and SHA-256.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, TensorData> | Record<string, TensorData>,
  metadata: Record<string, string> = {},
  fs: FsOps = nodeFs,
): Promise<{ size: number; sha256: string }> {
  const layout = planSafetensors(tensors, metadata);
  let sha256 = '';
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  try {
    [sha256] = await writeWhileHashing(fs, tmp, (f) => {
      const { written, parts } = writeLayout(f, layout);
      return { written, hashes: [sha256Parts(parts)] as const };
    });
    await fs.rename(tmp, path);
    await fs.syncDir(dirname(path));
  } catch (err) {
    await fs.rm(tmp).catch(() => undefined);
    throw writeFailure(err, `cannot write ${path}`);
  }
  return { size: layout.fileSize, sha256 };
}
