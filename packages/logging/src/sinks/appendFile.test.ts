import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import type { NoticeRecord } from '../types.js';
import { AppendFile, MAX_QUEUED_BYTES } from './appendFile.js';
import { jsonlSink, readJsonl } from './jsonlSink.js';

const root = mkdtempSync(join(tmpdir(), 'x-append-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `f${n++}`);
// /dev/full answers every write with ENOSPC: a disk that fills up under the writer.
const devFull = existsSync('/dev/full');

describe('AppendFile', () => {
  it('keeps the order of many appends, one write in flight, none on the caller', async () => {
    const f = new AppendFile(fresh());
    f.open();
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const line = `${i}\n`;
      lines.push(line);
      f.append(Buffer.from(line));
      if (i % 1000 === 0) await new Promise((res) => setImmediate(res));
    }
    await f.close();
    expect(readFileSync(f.path, 'utf8')).toBe(lines.join(''));
  });

  it('writeNowSync() puts queued and in-flight bytes on disk, in order, at once', async () => {
    const f = new AppendFile(fresh());
    f.open();
    for (let i = 0; i < 1000; i++) f.append(Buffer.from(`${i}\n`));
    f.writeNowSync();
    const expected = Array.from({ length: 1000 }, (_, i) => `${i}\n`).join('');
    expect(readFileSync(f.path, 'utf8')).toBe(expected);
    f.append(Buffer.from('end\n'));
    await f.close(); // the in-flight write lands on the same bytes again: no hole, no repeat
    expect(readFileSync(f.path, 'utf8')).toBe(`${expected}end\n`);
  });

  it('bounds its queue: past MAX_QUEUED_BYTES the caller writes (back-pressure)', async () => {
    const f = new AppendFile(fresh());
    f.open();
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 10; i++) f.append(chunk); // no yield: the async write cannot finish
    const onDisk = statSync(f.path).size;
    expect(onDisk).toBeGreaterThan(MAX_QUEUED_BYTES);
    expect(f.size - onDisk).toBeLessThanOrEqual(MAX_QUEUED_BYTES);
    await f.close();
    expect(statSync(f.path).size).toBe(10 << 20);
  });

  it('appends after what the file held (reopened logs)', async () => {
    const f = new AppendFile(fresh());
    f.open();
    f.append(Buffer.from('a\n'));
    await f.close();
    const g = new AppendFile(f.path);
    g.append(Buffer.from('b\n'));
    await g.sync();
    expect(readFileSync(f.path, 'utf8')).toBe('a\nb\n');
    await g.close();
  });

  it.skipIf(!devFull)(
    'a failed background write rejects drain, then is thrown once by append',
    async () => {
      const f = new AppendFile('/dev/full');
      f.open();
      f.append(Buffer.from('x\n'));
      await expect(f.drain()).rejects.toMatchObject({ code: 'ENOSPC' });
      f.append(Buffer.from('y\n')); // reported once: the next write goes on
      await expect(f.close()).rejects.toMatchObject({ code: 'ENOSPC' });
    },
  );
});

describe.skipIf(!devFull)('background write errors reach the logger', () => {
  it('a durable flush reports the sink whose write failed, with the error code', async () => {
    const runDir = fresh();
    mkdirSync(join(runDir, 'logs'), { recursive: true });
    symlinkSync('/dev/full', join(runDir, 'logs', 'metrics.jsonl'));
    const notices: NoticeRecord[] = [];
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [jsonlSink()],
      onNotice: (x) => notices.push(x),
    });
    for (let s = 0; s < 5; s++) logger.log({ loss: s }, { step: s });
    expect(await logger.flush({ durable: true })).toEqual(['jsonl']);
    expect(notices.map((x) => x.message)).toContainEqual(
      expect.stringMatching(/^sink 'jsonl' failed in flush: ENOSPC/),
    );
    await logger.close();
  });
});

describe('jsonl sink in the background', () => {
  it('keeps every row in order across rotations under many rows', async () => {
    const runDir = fresh();
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [{ sink: jsonlSink({ maxBytes: 64 << 10 }), every: { steps: 100 } }],
    });
    const steps = 30_000;
    for (let s = 0; s < steps; s++) {
      logger.log({ loss: 1 / (s + 1), acc: s }, { step: s });
      if (s % 50 === 0) await new Promise((res) => setImmediate(res));
    }
    await logger.close();
    const rows = readJsonl(join(runDir, 'logs'));
    expect(rows.map((r) => r['step'])).toEqual([...Array(steps).keys()]);
    expect(rows[123]).toMatchObject({ 'train/acc': 123 });
  });
});
