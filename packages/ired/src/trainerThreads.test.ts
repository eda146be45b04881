import { initBackend } from '@x/tensor';
import { describe, expect, it } from 'vitest';
import { cpuPreset } from './config.js';
import { IredTrainer } from './trainer.js';

/** Two training steps of the CPU-default model (wide enough for XNNPACK to split its work). */
async function twoSteps(threads: number): Promise<{ digest: string; loss: number[] }> {
  const info = await initBackend({ backend: 'wasm', threads });
  expect(info.threads).toBe(threads);
  const config = structuredClone(cpuPreset);
  config.train.batchSize = 4;
  const trainer = new IredTrainer({ config, seed: 3 });
  try {
    const loss = [(await trainer.trainStep()).loss, (await trainer.trainStep()).loss];
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
});
