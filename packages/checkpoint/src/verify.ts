import { basename } from 'node:path';
import { XError } from '@x/core';
import { loadCheckpoint, type LoadOptions, type LoadedCheckpoint } from './checkpointIo.js';
import type { FsOps } from './fsOps.js';
import { STEP_DIR } from './listing.js';

/**
 * Loads a checkpoint directory with every check a restore makes before `setState`, so that
 * `runner ckpt verify` and `--resume` cannot disagree: manifest (format, version, fields), file
 * sizes and SHA-256, safetensors structure, the state tree, the manifest's step against the
 * `step-XXXXXXXX` directory name (and `expectedStep` when given), and the manifest's component
 * list against the components in the state. On top of those, it recomputes the state digest
 * unless `verifyDigest: false` (what a restore passes by default: the digest is a function of the
 * checksummed files). Damage is `INTEGRITY`.
 */
export async function verifyCheckpoint(
  fs: FsOps,
  dir: string,
  expectedStep?: number,
  options: LoadOptions = {},
): Promise<LoadedCheckpoint> {
  const loaded = await loadCheckpoint(fs, dir, {
    ...options,
    verifyDigest: options.verifyDigest ?? true,
  });
  const m = loaded.manifest;
  const named = STEP_DIR.exec(basename(dir));
  if (named !== null && Number(named[1]) !== m.step) {
    throw new XError(
      'INTEGRITY',
      `${dir}: manifest says step ${m.step}, the directory name says step ${Number(named[1])}`,
    );
  }
  if (expectedStep !== undefined && m.step !== expectedStep) {
    throw new XError('INTEGRITY', `${dir}: manifest says step ${m.step}, expected ${expectedStep}`);
  }
  const listed = [...m.components].sort();
  const present = Object.keys(loaded.state).sort();
  if (listed.join('\0') !== present.join('\0')) {
    throw new XError(
      'INTEGRITY',
      `${dir}: the manifest lists components [${listed.join(', ')}] but the state holds [${present.join(', ')}]`,
    );
  }
  return loaded;
}
