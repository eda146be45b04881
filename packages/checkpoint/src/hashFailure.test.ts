import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileAndStateSha, killHashThreads, offThreadJobs } from './hashing.js';

// A file of its own: killing the hashing threads lasts for the rest of the module instance.

const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('hashing threads that die during a save', () => {
  it('both hashes are recomputed on the main thread and stay exact', async () => {
    const big = Array.from({ length: 16 }, (_, k) => new Uint8Array(4 << 20).fill(k + 1));
    const fileParts = [Uint8Array.of(1, 2, 3), ...big];
    const stateParts = [Uint8Array.of(9), ...big.slice(0, 8), Uint8Array.of(7), ...big.slice(8)];
    expect(await fileAndStateSha(fileParts, stateParts)).toEqual([sha(fileParts), sha(stateParts)]);
    const started = offThreadJobs();
    expect(started.sha256).toBe(1);
    const p = fileAndStateSha(fileParts, stateParts);
    await new Promise((r) => setTimeout(r, 10));
    await killHashThreads();
    expect(await p).toEqual([sha(fileParts), sha(stateParts)]);
    expect(await fileAndStateSha(fileParts, stateParts)).toEqual([sha(fileParts), sha(stateParts)]);
    expect(offThreadJobs().sha256).toBeLessThanOrEqual(2);
  });
});
