import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonHas } from '@x/test-utils';
import { describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import { crc32c, maskedCrc32c } from './crc32c.js';
import {
  encodeEvent,
  frameRecord,
  frameRecords,
  readEventFile,
  readRecords,
  scalarSummary,
} from './events.js';
import { scalarEventRecords } from './scalarEvents.js';
import { tensorboardSink } from './tensorboardSink.js';

const PY_READER = String.raw`
import json, struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def masked(b):
    c = crc(b)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
def fields(b):
    i, out = 0, []
    def varint():
        nonlocal i
        x = s = 0
        while True:
            y = b[i]; i += 1
            x |= (y & 0x7F) << s
            if not y & 0x80: return x
            s += 7
    while i < len(b):
        k = varint(); f, w = k >> 3, k & 7
        if w == 0: v = varint()
        elif w == 1: v = b[i:i+8]; i += 8
        elif w == 5: v = b[i:i+4]; i += 4
        elif w == 2:
            n = varint(); v = b[i:i+n]; i += n
        else: raise ValueError(w)
        out.append((f, v))
    return out
data = open(sys.argv[1], 'rb').read()
i, events = 0, []
while i < len(data):
    (n,) = struct.unpack('<Q', data[i:i+8])
    assert struct.unpack('<I', data[i+8:i+12])[0] == masked(data[i:i+8]), 'length crc'
    rec = data[i+12:i+12+n]
    assert struct.unpack('<I', data[i+12+n:i+16+n])[0] == masked(rec), 'data crc'
    i += 16 + n
    ev = {'step': 0, 'values': {}}
    for f, v in fields(rec):
        if f == 1: ev['wall_time'] = struct.unpack('<d', v)[0]
        elif f == 2: ev['step'] = v
        elif f == 3: ev['file_version'] = v.decode()
        elif f == 5:
            for vf, vv in fields(v):
                tag, val = None, None
                for ff, x in fields(vv):
                    if ff == 1: tag = x.decode()
                    elif ff == 2: val = struct.unpack('<f', x)[0]
                    elif ff == 8: val = [y.decode() for g, y in fields(x) if g == 8][0]
                ev['values'][tag] = val
    events.append(ev)
print(json.dumps(events))
`;

function hasPython(): boolean {
  return pythonHas('struct', 'json');
}

const TB_PYTHON = process.env['TENSORBOARD_PYTHON'] ?? '/usr/bin/python3';
const hasTensorboard =
  spawnSync(TB_PYTHON, ['-c', 'import tensorboard.backend.event_processing.event_accumulator'], {
    stdio: 'ignore',
  }).status === 0;

const TB_CHECK = String.raw`
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0})
acc.Reload()
out = {'tags': acc.Tags(), 'loss': [[e.step, e.value] for e in acc.Scalars('train/loss')]}
out['hist_num'] = acc.Histograms('train/h')[0].histogram_value.num
out['text'] = acc.Tensors('config/text_summary')[0].tensor_proto.string_val[0].decode()
print(json.dumps(out))
`;

describe('TensorBoard event files', () => {
  it('CRC-32C matches the check value and the mask is TFRecord’s', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    const c = crc32c(new TextEncoder().encode('abc'));
    expect(maskedCrc32c(new TextEncoder().encode('abc'))).toBe(
      ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0,
    );
  });

  it('frames records that parse back, and detects corruption', () => {
    const rec = frameRecord(encodeEvent({ wallTime: 1.5, fileVersion: 'brain.Event:2' }));
    expect(readRecords(rec)).toHaveLength(1);
    const bad = rec.slice();
    bad[14] = (bad[14] as number) ^ 1;
    expect(() => readRecords(bad)).toThrow(/CRC/);
  });

  it('a logger run writes brain.Event:2 first, config text and every scalar row', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'tb-'));
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: { lr: 0.1 }, startStep: 0, resumed: false },
      sinks: [{ sink: tensorboardSink(), every: { steps: 2 } }],
    });
    for (let s = 0; s < 5; s++)
      logger.log({ loss: 1 / (s + 1), nan: s === 3 ? NaN : s }, { step: s });
    logger.logHistogram('h', [1, 2, 2, 3, 10], { step: 4 });
    await logger.close();
    const files = readdirSync(join(runDir, 'logs', 'tb'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\./);
    const path = join(runDir, 'logs', 'tb', files[0]!);
    const events = readEventFile(path);
    expect(events[0]!.fileVersion).toBe('brain.Event:2');
    const text = events.find((e) => e.values.some((v) => v.pluginName === 'text'));
    expect(text?.values[0]?.tag).toBe('config/text_summary');
    expect(text?.values[0]?.text).toContain('lr: 0.1');
    const scalars = events.filter((e) => e.values.some((v) => v.tag === 'train/loss'));
    expect(scalars.map((e) => e.step)).toEqual([0, 1, 2, 3, 4]);
    expect(scalars[2]!.values.find((v) => v.tag === 'train/loss')?.simpleValue).toBeCloseTo(
      1 / 3,
      6,
    );
    expect(Number.isNaN(scalars[3]!.values.find((v) => v.tag === 'train/nan')?.simpleValue)).toBe(
      true,
    );
    const h = events.find((e) => e.values[0]?.histogram !== undefined)!.values[0]!.histogram!;
    expect(h.num).toBe(5);
    expect(h.buckets.reduce((a, b) => a + b, 0)).toBe(5);

    if (!hasPython()) {
      console.warn('skipping the Python decode: /usr/bin/python3 is missing');
      return;
    }
    const out = execFileSync('/usr/bin/python3', ['-c', PY_READER, path], { encoding: 'utf8' });
    const py = JSON.parse(out.replace(/\bNaN\b/g, 'null')) as {
      step: number;
      file_version?: string;
      values: Record<string, unknown>;
    }[];
    expect(py[0]!.file_version).toBe('brain.Event:2');
    const pyLoss = py.filter((e) => 'train/loss' in e.values);
    expect(pyLoss.map((e) => e.step)).toEqual([0, 1, 2, 3, 4]);
    expect(pyLoss[1]!.values['train/loss']).toBe(0.5);
    expect(readFileSync(path).length).toBeGreaterThan(100);
  });

  it('TensorBoard itself reads the files, and drops orphaned steps after a resume', async (ctx) => {
    if (!hasTensorboard) {
      console.warn(
        `skipping: ${TB_PYTHON} cannot import tensorboard (set TENSORBOARD_PYTHON to a python that can)`,
      );
      ctx.skip();
    }
    const runDir = mkdtempSync(join(tmpdir(), 'tb-'));
    const first = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: { lr: 0.1 }, startStep: 0, resumed: false },
      sinks: [tensorboardSink()],
    });
    for (let s = 0; s < 10; s++) first.log({ loss: s }, { step: s });
    first.logHistogram('h', [1, 2, 3], { step: 3 });
    await first.close();
    await new Promise((r) => setTimeout(r, 1100));
    const second = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: { lr: 0.1 }, startStep: 4, resumed: true },
      sinks: [tensorboardSink()],
    });
    for (let s = 5; s < 8; s++) second.log({ loss: 100 + s }, { step: s });
    await second.close();
    const out = JSON.parse(
      execFileSync(TB_PYTHON, ['-c', TB_CHECK, join(runDir, 'logs', 'tb')], { encoding: 'utf8' }),
    ) as { tags: { scalars: string[] }; loss: [number, number][]; hist_num: number; text: string };
    expect(out.tags.scalars).toContain('train/loss');
    expect(out.loss).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 105],
      [6, 106],
      [7, 107],
    ]);
    expect(out.hist_num).toBe(3);
    expect(out.text).toContain('lr: 0.1');
  });

  it('a resumed run starts with session_log START at the next step', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'tb-'));
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 40, resumed: true },
      sinks: [tensorboardSink({ configText: false })],
    });
    await logger.close();
    const dir = join(runDir, 'logs', 'tb');
    const events = readEventFile(join(dir, readdirSync(dir)[0]!));
    expect(events[1]).toMatchObject({ step: 41, sessionLogStatus: 1 });
  });
});

describe('scalarEventRecords', () => {
  it('writes the same bytes as encodeEvent + scalarSummary + frameRecords, in one pass', () => {
    const values = [0, -0, 1.5, -3e38, 1e-45, NaN, Infinity, -Infinity, 0.1];
    const steps = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3];
    const rows = steps.map((step, i) => {
      const row: Record<string, number> = {};
      for (let k = 0; k <= i; k++) row[`train/${'m'.repeat(k * 20)}${k}`] = values[k] as number;
      return { step, time: 1_700_000_000.125 + i, values: row };
    });
    rows.push({ step: 5, time: 1, values: {} });
    const expected = frameRecords(
      rows.map((r) =>
        encodeEvent({ wallTime: r.time, step: r.step, summary: scalarSummary(r.values) }),
      ),
    );
    expect(Buffer.from(scalarEventRecords(rows)).equals(Buffer.from(expected))).toBe(true);
    expect(scalarEventRecords([])).toHaveLength(0);
  });
});
