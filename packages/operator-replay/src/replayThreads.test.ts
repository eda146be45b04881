import { initBackend } from '@x/tensor';
import { describe, expect, it } from 'vitest';
import { operatorSpec, rolloutOperator } from './rollout.js';
import { tinyConfig } from './testConfig.js';

// A dataset records its backend, not the wasm thread count: replay must not depend on it.
describe('operator rollouts on wasm threads', () => {
  it('are bitwise identical at 1 and 2 threads (trajectory hashes)', async () => {
    const config = tinyConfig({
      realizations: 2,
      parameters: {
        grid_size: { kind: 'choice', options: [16] },
        base_channels: { kind: 'int', min: 8, max: 8 },
        kernel_size: { kind: 'choice', options: [5] },
      },
    });
    const hashes = async (threads: number) => {
      expect((await initBackend({ backend: 'wasm', threads })).threads).toBe(threads);
      return [0, 1].map((i) => rolloutOperator(config, operatorSpec(config, i)).hash);
    };
    const one = await hashes(1);
    expect(await hashes(2)).toEqual(one);
  });
});
