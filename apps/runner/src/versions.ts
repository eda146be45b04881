import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/**
 * Versions of the runtime and the libraries a run depends on (for doctor and run metadata), read
 * from their package.json files: importing tfjs here would cost every command that records
 * provenance a tfjs load before it has validated its flags.
 */
export function versionsReport(): Record<string, string> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    '@tensorflow/tfjs-core': pkgVersion('@tensorflow/tfjs-core'),
    '@x/core': pkgVersion('@x/core'),
    '@x/tensor': pkgVersion('@x/tensor'),
    '@x/logging': pkgVersion('@x/logging'),
    '@x/checkpoint': pkgVersion('@x/checkpoint'),
  };
}
