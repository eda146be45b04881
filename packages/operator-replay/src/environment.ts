import * as tf from '@tensorflow/tfjs-core';
import { XError } from '@x/core';
import { currentBackend } from '@x/tensor';

/** What bit-exactness is defined relative to: backend, its package, tfjs and Node versions. */
export interface Environment {
  backend: string;
  backendPackage: string;
  tfjsVersion: string;
  nodeVersion: string;
}

/** The environment of this process (the backend must be initialized). */
export function currentEnvironment(): Environment {
  const b = currentBackend();
  if (b === undefined)
    throw new XError(
      'ENVIRONMENT',
      'no tensor backend initialized (call initBackend() from @x/tensor first)',
    );
  return {
    backend: b.name,
    backendPackage: `${b.packageName}@${b.packageVersion}`,
    tfjsVersion: tf.version_core,
    nodeVersion: process.versions.node,
  };
}

function major(v: string): string {
  return v.split('.')[0] ?? v;
}

/** Differences that can change results: backend, backend package, tfjs version, Node major. */
export function environmentDifferences(recorded: Environment, current: Environment): string[] {
  const diffs: string[] = [];
  if (recorded.backend !== current.backend)
    diffs.push(`backend ${recorded.backend} ≠ ${current.backend}`);
  if (recorded.backendPackage !== current.backendPackage)
    diffs.push(`backend package ${recorded.backendPackage} ≠ ${current.backendPackage}`);
  if (recorded.tfjsVersion !== current.tfjsVersion)
    diffs.push(`tfjs ${recorded.tfjsVersion} ≠ ${current.tfjsVersion}`);
  if (major(recorded.nodeVersion) !== major(current.nodeVersion))
    diffs.push(
      `Node ${recorded.nodeVersion} ≠ ${current.nodeVersion} (transcendental functions may differ)`,
    );
  return diffs;
}

/**
 * Refuses to replay in an environment that differs from the recorded one (XError
 * `INVALID_INPUT`) unless `allowMismatch` is set.
 */
export function assertEnvironment(
  file: string,
  recorded: Environment,
  current: Environment,
  allowMismatch: boolean,
): string[] {
  const diffs = environmentDifferences(recorded, current);
  if (diffs.length > 0 && !allowMismatch)
    throw new XError(
      'INVALID_INPUT',
      `${file} was generated in a different environment (${diffs.join('; ')}); results would not be bit-exact. ` +
        `Use the recorded backend (--backend ${recorded.backend}) or allow the mismatch explicitly (--allow-env-mismatch).`,
    );
  return diffs;
}
