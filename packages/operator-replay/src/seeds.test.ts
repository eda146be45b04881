import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SEED_SCHEME, operatorSeed, operatorStreams, sampleUnitCube } from './seeds.js';

describe('seeds', () => {
  it('is SHA-256 over scheme, dataset id, u64 index and float64 parameter bytes', () => {
    const u = sampleUnitCube(5, 'ds-a', 7);
    const len = (s: string) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(Buffer.byteLength(s)));
      return Buffer.concat([b, Buffer.from(s)]);
    };
    const idx = Buffer.alloc(8);
    idx.writeBigUInt64LE(7n);
    const expected = createHash('sha256')
      .update(Buffer.concat([len(SEED_SCHEME), len('ds-a'), idx, Buffer.from(u.buffer)]))
      .digest('hex');
    expect(operatorSeed('ds-a', 7, u)).toBe(expected);
    expect(expected).toBe('24cfd4cd99272911a3fb42344bd2d48b9ce42d8c44c9b6b2d786b0c2bfd993f3');
  });

  it('changes with every input, including float32 rounding of the parameters', () => {
    const u = sampleUnitCube(5, 'ds-a', 7);
    const s = operatorSeed('ds-a', 7, u);
    expect(operatorSeed('ds-b', 7, u)).not.toBe(s);
    expect(operatorSeed('ds-a', 8, u)).not.toBe(s);
    expect(operatorSeed('ds-a', 7, Float64Array.from(Float32Array.from(u)))).not.toBe(s);
  });

  it('samples each operator independently of order and of the others', () => {
    const forward = [0, 1, 2, 3].map((i) => Array.from(sampleUnitCube(9, 'ds', i)));
    const backward = [3, 2, 1, 0].map((i) => Array.from(sampleUnitCube(9, 'ds', i))).reverse();
    expect(backward).toEqual(forward);
    for (const row of forward) for (const v of row) expect(v >= 0 && v < 1).toBe(true);
    expect(forward[0]).not.toEqual(forward[1]);
  });

  it('gives separate streams for weights, IC and noise per (realization, timestep)', () => {
    const s = operatorStreams(operatorSeed('ds', 0, sampleUnitCube(1, 'ds', 0)));
    const draws = [s.weights, s.ic, s.noise(0, 1), s.noise(1, 1), s.noise(0, 2)].map((r) =>
      r.nextUint32(),
    );
    expect(new Set(draws).size).toBe(5);
    expect(s.noise(1, 1).nextUint32()).toBe(draws[3]);
  });
});
