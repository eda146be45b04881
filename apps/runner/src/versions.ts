import { createRequire } from 'node:module';
import { version_core } from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** Versions of the runtime and the libraries a run depends on (for doctor and run metadata). */
export function versionsReport(): Record<string, string> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    '@tensorflow/tfjs-core': version_core,
    '@x/core': pkgVersion('@x/core'),
    '@x/tensor': pkgVersion('@x/tensor'),
    '@x/logging': pkgVersion('@x/logging'),
    '@x/checkpoint': pkgVersion('@x/checkpoint'),
  };
}
