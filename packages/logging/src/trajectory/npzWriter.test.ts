import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@x/core';
import { pythonHas, runPython } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { npyHeader } from './npy.js';
import { readNpz } from './npzReader.js';
import { compressionSettings, writeZip, type NpzCompression } from './npzWriter.js';
import { SEGMENT_BYTES } from './parallelDeflate.js';

const hasNumpy = pythonHas('numpy');
const dir = mkdtempSync(join(tmpdir(), 'x-npz-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Rows of a denoising trajectory: noisy floats first, then exact one-hot rows (runs of zeros). */
function trajectoryRows(rows: number, width: number): Float32Array[] {
  const rng = Rng.fromSeed(11).stream('npz-writer-test');
  const onehot = new Float32Array(width);
  for (let i = 0; i < width; i += 9) onehot[i + rng.int(0, 9)] = 1;
  return Array.from({ length: rows }, (_, r) => {
    const sigma = Math.max(0, 1 - r / (0.6 * rows));
    return Float32Array.from(onehot, (v) => (sigma > 0 ? v + sigma * rng.normal() : v));
  });
}

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

// 2 × 729 floats a row, 1200 rows: 7 MB, two segments, given as 1200 small chunks.
const ROWS = 1200;
const rows = trajectoryRows(ROWS, 2 * 729);
const big = new Float32Array(SEGMENT_BYTES / 4 + 3).map((_, i) => (i % 1000 === 0 ? i : 0));
const exactHeader = npyHeader('|u1', [SEGMENT_BYTES - 128]);
const entries = [
  { name: 'states.npy', bytes: () => [npyHeader('<f4', [ROWS, 2 * 729]), ...rows.map(u8)] },
  { name: 'big.npy', bytes: () => [npyHeader('<f4', [big.length]), u8(big)] },
  { name: 'empty.npy', bytes: () => [npyHeader('<f4', [0])] },
  { name: 'exact.npy', bytes: () => [exactHeader, new Uint8Array(SEGMENT_BYTES - 128).fill(7)] },
];

async function write(c: NpzCompression): Promise<string> {
  const path = join(dir, `${c}.npz`);
  await writeZip(path, entries, compressionSettings(c));
  return path;
}

describe('writeZip', () => {
  it('writes every entry bit-exactly in each compression mode (multi-segment, empty, one exact segment)', async () => {
    for (const c of ['fast', 'small', 'none'] as const) {
      const back = readNpz(await write(c));
      expect(Array.from((back['states']?.data as Float32Array).subarray(0, 5))).toEqual(
        Array.from(rows[0]!.subarray(0, 5)),
      );
      expect(sha([u8(back['states']!.data as Float32Array)])).toBe(sha(rows.map(u8)));
      expect(sha([u8(back['big']!.data as Float32Array)])).toBe(sha([u8(big)]));
      expect(back['empty']?.shape).toEqual([0]);
      expect(exactHeader.length + (back['exact']?.data as Uint8Array).length).toBe(SEGMENT_BYTES);
      expect((back['exact']?.data as Uint8Array).every((v) => v === 7)).toBe(true);
    }
  });

  it('fails with the source error and leaves no work running when an entry source throws', async () => {
    const bad = [
      {
        name: 'a.npy',
        *bytes() {
          yield new Uint8Array(3 * SEGMENT_BYTES);
          throw new Error('source broke at step 3');
        },
      },
    ];
    await expect(writeZip(join(dir, 'bad.npz'), bad, compressionSettings('fast'))).rejects.toThrow(
      /source broke at step 3/,
    );
  });

  it.skipIf(!hasNumpy)(
    'numpy opens the archive (deflate entries, CRCs checked) and fast is within 2 % of savez_compressed',
    async () => {
      const fast = await write('fast');
      const py = String.raw`
import hashlib, json, os, sys, zipfile, numpy as np
src, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(src)
bad = z.testzip()
methods = sorted({i.compress_type for i in z.infolist()})
a = np.load(src)
arrays = {k: a[k] for k in a.files}
np.savez_compressed(out, **arrays)
print(json.dumps({'bad': bad, 'methods': methods,
  'states': [str(arrays['states'].dtype), list(arrays['states'].shape), hashlib.sha256(arrays['states'].tobytes()).hexdigest()],
  'ours': os.path.getsize(src), 'numpy': os.path.getsize(out)}))`;
      const res = JSON.parse(runPython(py, [fast, join(dir, 'numpy.npz')])) as {
        bad: null;
        methods: number[];
        states: unknown[];
        ours: number;
        numpy: number;
      };
      expect(res.bad).toBeNull();
      expect(res.methods).toEqual([8]);
      expect(res.states).toEqual(['float32', [ROWS, 2 * 729], sha(rows.map(u8))]);
      expect(res.ours / res.numpy).toBeLessThan(1.02);
      expect(readFileSync(fast).length).toBe(res.ours);
    },
  );
});
