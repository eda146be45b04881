import { basename, join, resolve } from 'node:path';
import { XError, isXError, type ComponentMap } from '@x/core';
import type { LoadedCheckpoint } from './checkpointIo.js';
import { verifyCheckpoint } from './verify.js';
import { nodeFs, type FsOps } from './fsOps.js';
import { applyState } from './applyState.js';
import { STEP_DIR, readListing, readSmall } from './listing.js';
import { FILES, parseManifest, type Manifest } from './manifest.js';
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader } from './safetensors.js';

/** Options of {@link loadFrom} and {@link restoreFrom}. */
export interface ResolveOptions {
  /** Receives a warning for every damaged newer checkpoint skipped in a run directory. */
  onWarning?: (message: string) => void;
  fs?: FsOps;
  /**
   * Also recompute the state digest and compare it with the manifest (default false: like
   * `CheckpointManager.restore`, sizes and SHA-256 of every file are always checked, and the
   * digest is a function of those bytes).
   */
  verifyDigest?: boolean;
}

/** A verified checkpoint found from a `<ckpt|run-dir>` argument. */
export interface ResolvedCheckpoint extends LoadedCheckpoint {
  step: number;
  /** Damaged newer checkpoints that were skipped (run directories only). */
  warnings: string[];
}

async function isDir(fs: FsOps, path: string): Promise<boolean> {
  try {
    await fs.readdir(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a `<ckpt|run-dir>` path names: `checkpoint` (a `step-XXXXXXXX` directory or any directory
 * holding `manifest.json`), or `checkpoints` (a run directory's `checkpoints/`, given directly or
 * through the run directory). Throws `NOT_FOUND` otherwise.
 */
export async function classifyPath(
  path: string,
  fs: FsOps = nodeFs,
): Promise<{ kind: 'checkpoint' | 'checkpoints'; dir: string }> {
  const abs = resolve(path);
  const entries = await fs.readdir(abs).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw new XError('INVALID_INPUT', `${abs}: permission denied`, { cause: err });
    if (code === 'ENOTDIR')
      throw new XError(
        'INVALID_INPUT',
        `${abs}: not a directory (a checkpoint or run directory is expected)`,
        { cause: err },
      );
    throw new XError('NOT_FOUND', `${abs}: no such directory`, { cause: err });
  });
  if (entries.includes(FILES.manifest) || STEP_DIR.test(basename(abs)))
    return { kind: 'checkpoint', dir: abs };
  if (entries.includes('checkpoints') && (await isDir(fs, join(abs, 'checkpoints')))) {
    return { kind: 'checkpoints', dir: join(abs, 'checkpoints') };
  }
  if (entries.some((e) => STEP_DIR.test(e))) return { kind: 'checkpoints', dir: abs };
  throw new XError(
    'NOT_FOUND',
    `${abs}: neither a checkpoint (no ${FILES.manifest}) nor a run directory (no checkpoints/)`,
  );
}

/** Committed checkpoint directories of a `checkpoints/` directory, newest first. */
export async function listCheckpointDirs(
  dir: string,
  fs: FsOps = nodeFs,
): Promise<{ step: number; dir: string }[]> {
  const out: { step: number; dir: string }[] = [];
  for (const name of await fs.readdir(dir)) {
    const m = STEP_DIR.exec(name);
    if (m !== null) out.push({ step: Number(m[1]), dir: join(dir, name) });
  }
  return out.sort((a, b) => b.step - a.step);
}

/**
 * Loads and verifies (see {@link ResolveOptions.verifyDigest}) the checkpoint a `<ckpt|run-dir>`
 * argument names: a checkpoint directory itself (damage is an `INTEGRITY` error), or a run
 * directory's newest valid checkpoint (damaged newer ones are skipped with a warning).
 *
 * @example
 * const { state, step } = await loadFrom('runs/ired-20260101T000000Z');
 */
export async function loadFrom(
  path: string,
  options: ResolveOptions = {},
): Promise<ResolvedCheckpoint> {
  const fs = options.fs ?? nodeFs;
  const load = { verifyDigest: options.verifyDigest ?? false };
  const target = await classifyPath(path, fs);
  if (target.kind === 'checkpoint') {
    const loaded = await verifyCheckpoint(fs, target.dir, undefined, load);
    return { ...loaded, step: loaded.manifest.step, warnings: [] };
  }
  const warnings: string[] = [];
  const dirs = await listCheckpointDirs(target.dir, fs);
  if (dirs.length === 0) throw new XError('NOT_FOUND', `no checkpoint in ${target.dir}`);
  for (const { step, dir } of dirs) {
    try {
      const loaded = await verifyCheckpoint(fs, dir, step, load);
      return { ...loaded, step, warnings };
    } catch (err) {
      if (!isXError(err, 'INTEGRITY')) throw err;
      const w = `checkpoint ${dir} is damaged and was skipped: ${err.message}`;
      warnings.push(w);
      options.onWarning?.(w);
    }
  }
  throw new XError('INTEGRITY', `no valid checkpoint in ${target.dir}: ${warnings.join('; ')}`);
}

/**
 * Restores components from the checkpoint a `<ckpt|run-dir>` argument names (see
 * {@link loadFrom}); components missing from the map are ignored, mismatches name the leaf path.
 */
export async function restoreFrom(
  path: string,
  components: ComponentMap,
  options: ResolveOptions = {},
): Promise<ResolvedCheckpoint> {
  const loaded = await loadFrom(path, options);
  await applyState(components, loaded);
  return loaded;
}

/** A checkpoint's manifest and safetensors header, read without verifying checksums. */
export interface CheckpointSummary {
  dir: string;
  manifest: Manifest;
  header: SafetensorsHeader;
}

/** Reads a checkpoint's manifest and tensor header only (cheap; no checksum verification). */
export async function inspectCheckpoint(
  dir: string,
  fs: FsOps = nodeFs,
): Promise<CheckpointSummary> {
  const mPath = join(dir, FILES.manifest);
  const manifest = parseManifest((await readSmall(fs, mPath, 16 << 20)).toString('utf8'), mPath);
  const tPath = join(dir, FILES.tensors);
  const size = await fs.size(tPath);
  const f = await fs.open(tPath, 'r');
  try {
    const prefix = new Uint8Array(8);
    await f.read(prefix, 0);
    const len = readHeaderLength(prefix, size, tPath);
    const json = new Uint8Array(len);
    await f.read(json, 8);
    return { dir, manifest, header: parseSafetensorsHeader(json, size, tPath) };
  } finally {
    await f.close();
  }
}

/** One checkpoint of a listing (manifest read, checksums not verified). */
export interface ListedCheckpoint {
  step: number;
  dir: string;
  manifest?: Manifest;
  metrics?: Record<string, number>;
  /** Why the manifest could not be read. */
  damaged?: string;
}

/** Lists a run's (or a checkpoints directory's) committed checkpoints, oldest first, read-only. */
export async function listCheckpoints(
  path: string,
  fs: FsOps = nodeFs,
): Promise<ListedCheckpoint[]> {
  const target = await classifyPath(path, fs);
  if (target.kind === 'checkpoint') {
    throw new XError('INVALID_INPUT', `${target.dir} is a checkpoint, not a run directory`);
  }
  return (await readListing(fs, target.dir)).map(({ path: dir, createdAt: _c, ...rest }) => ({
    dir,
    ...rest,
  }));
}
