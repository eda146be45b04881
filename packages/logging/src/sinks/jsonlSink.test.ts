import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import { parseJson, stringifyJson } from '../json.js';
import { jsonlSink, readJsonl } from './jsonlSink.js';

function runDirWith() {
  return mkdtempSync(join(tmpdir(), 'jsonl-'));
}

describe('JSON with NaN/Infinity tokens', () => {
  it('round-trips the tokens, never null', () => {
    const v = {
      a: NaN,
      b: Infinity,
      c: -Infinity,
      d: [1.5, NaN],
      s: 'NaN Infinity "x"',
      t: new Float32Array([0.5]),
    };
    const text = stringifyJson(v);
    expect(text).toBe(
      '{"a":NaN,"b":Infinity,"c":-Infinity,"d":[1.5,NaN],"s":"NaN Infinity \\"x\\"","t":[0.5]}',
    );
    const back = parseJson(text) as Record<string, unknown>;
    expect(back['a']).toBeNaN();
    expect(back['b']).toBe(Infinity);
    expect(back['c']).toBe(-Infinity);
    expect(back['s']).toBe('NaN Infinity "x"');
    expect((back['d'] as number[])[1]).toBeNaN();
  });
});

describe('jsonl sink', () => {
  it('writes one object per committed step and episodes', async () => {
    const runDir = runDirWith();
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [{ sink: jsonlSink(), every: { steps: 3 } }],
    });
    for (let s = 0; s < 10; s++) {
      logger.log({ loss: s === 4 ? NaN : s, inf: -Infinity }, { step: s });
      logger.log({ acc: s / 10 }, { step: s, category: 'eval' });
    }
    logger.logEpisode({ total_reward: 3, success: true }, { step: 9, category: 'batch' });
    await logger.close();
    const text = readFileSync(join(runDir, 'logs', 'metrics.jsonl'), 'utf8');
    expect(text).toContain('"train/loss":NaN');
    expect(text).toContain('"train/inf":-Infinity');
    const rows = readJsonl(join(runDir, 'logs'));
    expect(rows.map((r) => r['step'])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows[2]).toMatchObject({ step: 2, 'train/loss': 2, 'eval/acc': 0.2 });
    expect(typeof rows[0]!['time']).toBe('number');
    expect(readJsonl(join(runDir, 'logs'), 'episodes')).toMatchObject([
      { step: 9, category: 'batch', total_reward: 3, success: true },
    ]);
  });

  it('rotates past maxBytes and reads the parts back in order', async () => {
    const runDir = runDirWith();
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [jsonlSink({ maxBytes: 200 })],
    });
    for (let s = 0; s < 20; s++) {
      logger.log({ loss: s }, { step: s });
      await logger.flush();
    }
    await logger.close();
    const files = readdirSync(join(runDir, 'logs'));
    expect(files.filter((f) => /^metrics\.\d+\.jsonl$/.test(f)).length).toBeGreaterThan(1);
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual([...Array(20).keys()]);
  });

  it('drops rows after the resumed step so they are not duplicated', async () => {
    const runDir = runDirWith();
    const first = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [jsonlSink()],
    });
    for (let s = 0; s < 8; s++) first.log({ x: s }, { step: s });
    await first.close();
    const second = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 4, resumed: true },
      sinks: [jsonlSink()],
    });
    second.setState({ step: 4, lowerStepCount: 0, sinks: {} });
    for (let s = 5; s < 8; s++) second.log({ x: s * 10 }, { step: s });
    await second.close();
    const rows = readJsonl(join(runDir, 'logs'));
    expect(rows.map((r) => r['step'])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rows[7]!['train/x']).toBe(70);
  });
});
