import { resolveDatasetConfig, type DatasetConfig } from './datasetConfig.js';

/** A tiny dataset config for tests: grid 12, 5 timesteps, 2 realizations, 2–4 channels. */
export function tinyConfig(overrides: Record<string, unknown> = {}): DatasetConfig {
  return resolveDatasetConfig({
    rootSeed: 11,
    timesteps: 5,
    realizations: 2,
    chunkSize: 3,
    parameters: {
      grid_size: { kind: 'choice', options: [12] },
      base_channels: { kind: 'int', min: 2, max: 4 },
      kernel_size: { kind: 'choice', options: [3, 5] },
    },
    ...overrides,
  });
}
