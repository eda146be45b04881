import { join } from 'node:path';
import { XError } from '@x/core';
import type { FsOps } from './fsOps.js';
import { FILES, decodeMetrics, parseManifest } from './manifest.js';
import type { CheckpointInfo } from './managerTypes.js';

/** Names of committed checkpoint directories. */
export const STEP_DIR = /^step-(\d{8,})$/;

/** The directory name of a step: `step-00000040`. */
export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Reads a small file whole; larger than `limit` is an `INTEGRITY` error. */
export async function readSmall(fs: FsOps, path: string, limit: number): Promise<Buffer> {
  const size = await fs.size(path);
  if (size > limit) throw new XError('INTEGRITY', `${path}: ${size} bytes, more than ${limit}`);
  const f = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    await f.read(buf, 0);
    return buf;
  } finally {
    await f.close();
  }
}

/** Committed checkpoints of a directory, oldest first, with their manifests (not verified). */
export async function readListing(fs: FsOps, dir: string): Promise<CheckpointInfo[]> {
  const out: CheckpointInfo[] = [];
  for (const name of await fs.readdir(dir)) {
    const m = STEP_DIR.exec(name);
    if (m === null) continue;
    const path = join(dir, name);
    const info: CheckpointInfo = { step: Number(m[1]), path };
    try {
      const mPath = join(path, FILES.manifest);
      const manifest = parseManifest(
        (await readSmall(fs, mPath, 16 << 20)).toString('utf8'),
        mPath,
      );
      info.manifest = manifest;
      info.createdAt = manifest.createdAt;
      info.metrics = decodeMetrics(manifest.metrics);
    } catch (err) {
      info.damaged = (err as Error).message;
    }
    out.push(info);
  }
  return out.sort((a, b) => a.step - b.step);
}
