import { initBackend } from '@x/tensor';
import { describe, expect, it } from 'vitest';
import { cpuPreset } from './config.js';
import { IredTrainer } from './trainer.js';

/** Two training steps of the CPU-default model (wide enough for XNNPACK to split its work). */
async function twoSteps(
  threads: number,
  microBatch?: number,
): Promise<{ digest: string; loss: number[] }> {
  const info = await initBackend({ backend: 'wasm', threads });
  expect(info.threads).toBe(threads);
  const config = structuredClone(cpuPreset);
  config.train.batchSize = 4;
  if (microBatch !== undefined) config.train.microBatch = microBatch;
  const trainer = new IredTrainer({ config, seed: 3 });
  try {
    const loss = [(await trainer.trainStep()).loss, (await trainer.trainStep()).loss];
    const parts = Math.ceil(4 / (microBatch ?? 4));
    expect(trainer.gradientWorkers).toBe(parts > 1 && threads > 1 ? Math.min(parts, threads) : 0);
    return { digest: await trainer.digest(), loss };
  } finally {
    trainer.dispose();
  }
}

describe('IRED training on wasm threads', () => {
  it('a training step gives bitwise-identical state at 1 and 2 threads', async () => {
    const one = await twoSteps(1);
    const two = await twoSteps(2);
    expect(two).toEqual(one);
  });

  it('micro-batches computed by parallel gradient workers give the state of 1 thread, bitwise', async () => {
    const one = await twoSteps(1, 2);
    const two = await twoSteps(2, 2);
    expect(two).toEqual(one);
    // A different split is a different (float-rounded) sum: the split is configuration.
    expect((await twoSteps(2, 1)).digest).not.toBe(one.digest);
  });
});
