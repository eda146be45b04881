import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, XError, isXError, statesEqual, tensorData, type TensorData } from '@x/core';
import { PYTHON, pythonHas, runPython } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, writeSafetensorsFile } from './checkpointIo.js';
import { decodeSafetensors, encodeSafetensors, MAX_HEADER_SIZE } from './safetensors.js';

const hasNumpy = pythonHas('numpy');
const tmp = mkdtempSync(join(tmpdir(), 'x-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sample(): Record<string, TensorData> {
  const rng = Rng.fromSeed(7).stream('sample');
  return {
    'model/conv1/kernel': tensorData(
      'float32',
      [3, 3, 2, 4],
      Array.from({ length: 72 }, () => rng.normal()),
    ),
    'model/bias': tensorData('float64', [5], [1.5, -0, NaN, Infinity, 1e-300]),
    'opt/step': tensorData('int32', [], [-7]),
    mask: tensorData('bool', [2, 3], [1, 0, 1, 1, 0, 0]),
    bytes: tensorData('uint8', [4], [0, 1, 254, 255]),
    empty: tensorData('float32', [0, 3]),
  };
}

function header(file: Uint8Array): { n: number; json: Record<string, unknown> } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return {
    n,
    json: JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString('utf8')) as Record<
      string,
      unknown
    >,
  };
}

function withHeader(
  json: string,
  data: Uint8Array = new Uint8Array(0),
  declared?: bigint,
): Uint8Array {
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function rejects(file: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    decodeSafetensors(file, 'f.safetensors');
  } catch (e) {
    err = e;
  }
  expect(isXError(err, 'INVALID_INPUT'), String(err)).toBe(true);
  expect((err as Error).message).toMatch(pattern);
}

describe('safetensors writer', () => {
  it('round-trips every dtype bit-exactly, including NaN, -0, rank-0 and empty tensors', () => {
    const t = sample();
    const back = decodeSafetensors(encodeSafetensors(t, { a: 'b' }));
    expect(back.metadata).toEqual({ a: 'b' });
    expect(statesEqual(Object.fromEntries(back.tensors), t)).toBe(true);
  });

  it('pads the header with spaces to a multiple of 8 and aligns every tensor naturally', () => {
    const file = encodeSafetensors(sample());
    const { n, json } = header(file);
    expect(n % 8).toBe(0);
    expect(file[8]).toBe(0x7b);
    const text = Buffer.from(file.subarray(8, 8 + n)).toString('utf8');
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const widths: Record<string, number> = { F64: 8, F32: 4, I32: 4, U8: 1, BOOL: 1 };
    for (const [name, e] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      const { dtype, data_offsets } = e as { dtype: string; data_offsets: [number, number] };
      expect((8 + n + data_offsets[0]) % (widths[dtype] as number)).toBe(0);
    }
  });

  it('writes and reads files atomically (the file-level API)', async () => {
    const path = join(tmp, 'file.safetensors');
    const w = await writeSafetensorsFile(path, sample(), { k: 'v' });
    const r = await readSafetensorsFile(path);
    expect(r.sha256).toBe(w.sha256);
    expect(r.metadata).toEqual({ k: 'v' });
    expect(statesEqual(Object.fromEntries(r.tensors), sample())).toBe(true);
    expect(
      Buffer.from(readFileSync(path)).equals(Buffer.from(encodeSafetensors(sample(), { k: 'v' }))),
    ).toBe(true);
  });

  it('is deterministic (same tensors, same bytes)', () => {
    expect(
      Buffer.from(encodeSafetensors(sample())).equals(Buffer.from(encodeSafetensors(sample()))),
    ).toBe(true);
  });
});

const PY_READER = `
import json, struct, sys
import numpy as np
path = sys.argv[1]
with open(path, 'rb') as f:
    raw = f.read()
(n,) = struct.unpack('<Q', raw[:8])
head = json.loads(raw[8:8 + n].decode('utf-8'))
meta = head.pop('__metadata__', {})
buf = raw[8 + n:]
dt = {'F32': '<f4', 'F64': '<f8', 'I32': '<i4', 'U8': 'u1', 'BOOL': '?'}
out = {'meta': meta, 'tensors': {}}
end = 0
for name, e in sorted(head.items(), key=lambda kv: kv[1]['data_offsets']):
    b, e2 = e['data_offsets']
    assert b == end, (name, b, end)
    end = e2
    a = np.frombuffer(buf[b:e2], dtype=dt[e['dtype']]).reshape(e['shape'])
    out['tensors'][name] = {'dtype': e['dtype'], 'shape': list(a.shape), 'hex': a.astype(a.dtype.newbyteorder('<')).tobytes().hex()}
assert end == len(buf)
print(json.dumps(out))
`;

describe('safetensors read by Python (numpy)', () => {
  it.skipIf(!hasNumpy)('numpy reads every tensor with the same dtype, shape and bytes', () => {
    const t = sample();
    const path = join(tmp, 'py.safetensors');
    writeFileSync(path, encodeSafetensors(t, { producer: 'test' }));
    const out = JSON.parse(runPython(PY_READER, [path])) as {
      meta: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; hex: string }>;
    };
    expect(out.meta).toEqual({ producer: 'test' });
    expect(Object.keys(out.tensors).sort()).toEqual(Object.keys(t).sort());
    for (const [name, v] of Object.entries(t)) {
      const got = out.tensors[name]!;
      expect(got.shape).toEqual(v.shape);
      expect(got.hex).toBe(
        Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('hex'),
      );
    }
  });
  if (!hasNumpy)
    it.skip(`numpy is not available in ${PYTHON}; skipping the Python reader check`, () => {});
});

describe('safetensors reader rejects malformed files', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  it('too small, oversized or truncated header', () => {
    rejects(new Uint8Array(5), /too small/);
    rejects(withHeader('{}', new Uint8Array(0), BigInt(MAX_HEADER_SIZE) + 1n), /exceeds the cap/);
    rejects(withHeader('{}', new Uint8Array(0), 2n ** 63n), /exceeds the cap/);
    rejects(withHeader('{}', new Uint8Array(0), 1000n), /truncated/);
  });
  it('header not starting with {, invalid UTF-8, invalid JSON, duplicate keys, trailing garbage', () => {
    rejects(withHeader(' {}'), /start with/);
    rejects(withHeader('[1]'), /start with/);
    const bad = withHeader('{"\u00e9":1}');
    bad[10] = 0xff;
    rejects(bad, /UTF-8|JSON/);
    rejects(withHeader('{"a":'), /invalid JSON/);
    const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    rejects(withHeader(`{"a":${e},"a":${e}}`, f32(2)), /duplicate key/);
    rejects(withHeader('{} x'), /trailing/);
  });
  it('unknown dtype, bad shapes, wrong sizes, unknown fields', () => {
    rejects(
      withHeader('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', f32(1)),
      /unknown dtype/,
    );
    rejects(
      withHeader('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32(1)),
      /invalid entry/,
    );
    rejects(
      withHeader('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', f32(1)),
      /invalid entry/,
    );
    rejects(withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', f32(1)), /need 8/);
    rejects(
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', f32(1)),
      /before begin/,
    );
    rejects(
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', f32(1)),
      /unknown field/,
    );
    rejects(
      withHeader('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', new Uint8Array(1)),
      /byte boundary/,
    );
    rejects(withHeader('{"__metadata__":{"k":1}}'), /must be a string/);
  });
  it('overlapping offsets, holes, unindexed trailing bytes, truncated data', () => {
    const a = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    rejects(
      withHeader(`{${a},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)),
      /overlaps/,
    );
    rejects(
      withHeader(`{${a},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, f32(4)),
      /hole/,
    );
    rejects(withHeader(`{${a}}`, f32(3)), /not indexed/);
    rejects(withHeader(`{${a}}`, f32(1)), /truncated/);
  });
  it('a tensor claiming 2^47 elements fails on sizes before anything is allocated', () => {
    rejects(
      withHeader(
        '{"a":{"dtype":"U8","shape":[140737488355327],"data_offsets":[0,140737488355327]}}',
      ),
      /truncated/,
    );
    rejects(
      withHeader('{"a":{"dtype":"F64","shape":[65536,65536,65536],"data_offsets":[0,8]}}', f32(2)),
      /too large/,
    );
  });
});

describe('safetensors reader fuzz (seeded)', () => {
  it('damaged headers give INVALID_INPUT or a consistent decode, never another error', () => {
    const base = encodeSafetensors(sample(), { k: 'v' });
    const { n } = header(base);
    const rng = Rng.fromSeed(2024).stream('fuzz');
    let rejected = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const file = base.slice();
      const r = rng.stream('case', iter);
      const kind = r.int(0, 5);
      let mutated: Uint8Array = file;
      if (kind === 0) {
        for (let k = r.int(1, 4); k > 0; k--) file[8 + r.int(0, n)] = r.int(0, 256);
      } else if (kind === 1) {
        const pos = r.int(8, 8 + n);
        file[pos] = r.choice([
          0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x39, 0x2d, 0x20, 0x5c,
        ]);
      } else if (kind === 2) {
        mutated = file.subarray(0, r.int(0, file.length));
      } else if (kind === 3) {
        for (let k = 0; k < 8; k++) file[k] = r.int(0, 256);
      } else {
        const text = Buffer.from(file.subarray(8, 8 + n)).toString('latin1');
        const digits = [...text.matchAll(/\d+/g)];
        const m = digits[r.int(0, digits.length)]!;
        const repl = String(
          r.choice([0, 1, 3, 8, 2 ** 31, 2 ** 48, 2 ** 53 + 1, Number(m[0]) + 1]),
        );
        const t2 = (text.slice(0, m.index) + repl + text.slice(m.index + m[0].length))
          .padEnd(n, ' ')
          .slice(0, n);
        file.set(Buffer.from(t2, 'latin1'), 8);
      }
      try {
        const d = decodeSafetensors(mutated, 'fuzz');
        let total = 0;
        for (const t of d.tensors.values()) total += t.data.byteLength;
        expect(total).toBeLessThanOrEqual(mutated.length);
      } catch (err) {
        if (!(err instanceof XError) || err.code !== 'INVALID_INPUT') throw err;
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1500);
  });

  it('the file reader rejects damaged files the same way (reads only the header before validating)', async () => {
    const base = encodeSafetensors(sample());
    const { n } = header(base);
    const rng = Rng.fromSeed(77).stream('file-fuzz');
    const path = join(tmp, 'fuzz.safetensors');
    let rejected = 0;
    for (let iter = 0; iter < 150; iter++) {
      const r = rng.stream('case', iter);
      let file = base.slice();
      if (r.int(0, 2) === 0) file = file.subarray(0, r.int(0, file.length));
      else for (let k = r.int(1, 4); k > 0; k--) file[r.int(0, 8 + n)] = r.int(0, 256);
      writeFileSync(path, file);
      try {
        await readSafetensorsFile(path);
      } catch (err) {
        if (!(err instanceof XError) || err.code !== 'INVALID_INPUT') throw err;
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(75);
  });
});
