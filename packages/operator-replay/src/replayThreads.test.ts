import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@x/tensor';
import { describe, expect, it } from 'vitest';
import { generateDataset } from './generate.js';
import { replayDataset } from './replay.js';
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

  it('generate on 2 threads (parallel single-threaded workers) writes what 1 thread does; replay verifies', async () => {
    const config = tinyConfig({ realizations: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'x-gen-threads-'));
    try {
      const run = async (threads: number) => {
        await initBackend({ backend: 'wasm', threads });
        const out = join(dir, `t${threads}.h5`);
        const progress: number[] = [];
        await generateDataset({ config, total: 3, out, onProgress: (d) => progress.push(d) });
        expect(progress).toEqual([1, 2, 3]);
        // Replay recomputes each rollout here and checks it against the stored hash.
        const hashes: string[] = [];
        const r = await replayDataset(out, { onRollout: (ro) => hashes.push(ro.hash) });
        expect(r.mismatches).toEqual([]);
        return hashes;
      };
      const one = await run(1);
      expect(one).toHaveLength(3);
      expect(await run(2)).toEqual(one);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
