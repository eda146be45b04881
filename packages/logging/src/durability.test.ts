import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalTs } from '@x/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentLogger } from './experimentLogger.js';
import { parseJson } from './json.js';
import { jsonlSink, readJsonl } from './sinks/jsonlSink.js';
import { readEventFile } from './tensorboard/events.js';
import { tensorboardSink } from './tensorboard/tensorboardSink.js';
import type { Sink } from './types.js';
import { WandbSink } from './wandb/wandbSink.js';

const root = mkdtempSync(join(tmpdir(), 'x-durable-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** One "process" of a run: a logger over fresh sink instances (as a restarted runner has). */
function open(
  runDir: string,
  resumed: boolean,
  sinks: () => Sink[],
  startStep = 0,
): ExperimentLogger {
  return new ExperimentLogger({
    run: { runDir, pipeline: 't', config: {}, startStep, resumed },
    // Slow cadences: rows stay buffered unless a durable flush hands them over.
    sinks: sinks().map((sink) => ({ sink, every: { steps: 1000 } })),
  });
}

const all = (maxBytes = 1 << 20): Sink[] => [
  jsonlSink({ maxBytes }),
  tensorboardSink({ configText: false }),
  new WandbSink({ env: { WANDB_MODE: 'offline' }, config: { flushIntervalMs: 60_000 } }),
];

function tbSteps(runDir: string): number[] {
  const dir = join(runDir, 'logs', 'tb');
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readEventFile(join(dir, f)))
    .filter((e) => e.values.some((v) => v.simpleValue !== undefined))
    .map((e) => e.step);
}

function wandbSteps(runDir: string): number[] {
  return readFileSync(join(runDir, 'wandb', 'history.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (parseJson(l) as { _step: number })._step);
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('logs and checkpoints agree', () => {
  it('flush({durable}) puts the open row on disk in every sink at once', async () => {
    const runDir = join(root, `r${n++}`);
    const logger = open(runDir, false, () => all());
    for (let s = 1; s <= 5; s++) logger.log({ loss: s }, { step: s });
    expect(await logger.flush({ durable: true })).toEqual([]);
    // Nothing was closed: what is on disk now is what a kill -9 would leave.
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual(range(1, 5));
    expect(tbSteps(runDir)).toEqual(range(1, 5));
    expect(wandbSteps(runDir)).toEqual(range(1, 5));
    expect(logger.getState().step).toBe(5);
    await logger.close();
  });

  it('log() leaves the files alone; an awaited durable flush is what puts the rows there', async () => {
    const runDir = join(root, `r${n++}`);
    const logger = new ExperimentLogger({
      run: { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false },
      sinks: [
        { sink: jsonlSink(), every: { steps: 10 } },
        { sink: tensorboardSink({ configText: false }), every: { steps: 10 } },
      ],
    });
    for (let s = 1; s <= 300; s++) logger.log({ loss: s }, { step: s });
    // Thirty batches are due, but nothing is encoded or written on log()'s stack.
    expect(readJsonl(join(runDir, 'logs'))).toEqual([]);
    expect(tbSteps(runDir)).toEqual([]);
    const flushed = logger.flush({ durable: true });
    expect(readJsonl(join(runDir, 'logs'))).toEqual([]);
    expect(await flushed).toEqual([]);
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual(range(1, 300));
    expect(tbSteps(runDir)).toEqual(range(1, 300));
    await logger.close();
  });

  it('flushNow() (crash handlers) writes everything before it returns', async () => {
    const runDir = join(root, `r${n++}`);
    const logger = open(runDir, false, () => [jsonlSink(), tensorboardSink({ configText: false })]);
    for (let s = 1; s <= 50; s++) {
      logger.log({ loss: s }, { step: s });
      if (s === 20) logger.flushNow();
    }
    logger.flushNow();
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual(range(1, 50));
    expect(tbSteps(runDir)).toEqual(range(1, 50));
    await logger.close();
  });

  it('process.exit() without close() still writes every committed row (exit hook)', () => {
    const runDir = join(root, `r${n++}`);
    const runLoggerTs = fileURLToPath(new URL('./runLogger.ts', import.meta.url));
    const script = `
      const { createRunLogger } = await import(${JSON.stringify(runLoggerTs)});
      const logger = createRunLogger({ runDir: ${JSON.stringify(runDir)}, pipeline: 't', config: {}, quiet: true, wandb: false });
      for (let s = 0; s < 250; s++) logger.log({ loss: s }, { step: s });
      process.exit(0);
    `;
    const r = evalTs(script, { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(readJsonl(join(runDir, 'logs')).map((row) => row['step'])).toEqual(range(0, 249));
    expect(tbSteps(runDir)).toEqual(range(0, 249));
  });

  it('rewind(S) after a crash drops later rows from JSONL parts, TensorBoard files and the W&B spool', async () => {
    const runDir = join(root, `r${n++}`);
    const first = open(runDir, false, () => all(300));
    for (let s = 1; s <= 20; s++) {
      first.log({ loss: s / 10 }, { step: s });
      if (s === 8) await first.flush({ durable: true }); // "checkpoint 8"
    }
    await first.flush({ durable: true }); // rows 9..20 reached disk, no checkpoint (then a crash)
    expect(
      readdirSync(join(runDir, 'logs')).filter((f) => /^metrics\.\d+\.jsonl$/.test(f)).length,
    ).toBeGreaterThan(1);
    appendFileSync(join(runDir, 'logs', 'metrics.jsonl'), '{"step":21,"time":1,"tr'); // torn write
    // The resumed process starts its sinks at the newest listed checkpoint (20, say) but
    // restores checkpoint 8 (20 was damaged): rewind(8) is what counts.
    const second = open(runDir, true, () => all(300), 20);
    await second.rewind(8);
    for (let s = 9; s <= 12; s++) second.log({ loss: s / 10 }, { step: s });
    await second.close();
    const rows = readJsonl(join(runDir, 'logs'));
    expect(rows.map((r) => r['step'])).toEqual(range(1, 12));
    expect(tbSteps(runDir)).toEqual(range(1, 12));
    expect(wandbSteps(runDir)).toEqual(range(1, 12));
  });

  it('a run resumed without a checkpoint (rewind(-1)) starts its logs afresh', async () => {
    const runDir = join(root, `r${n++}`);
    const first = open(runDir, false, () => all());
    for (let s = 1; s <= 4; s++) first.log({ loss: s }, { step: s });
    await first.flush({ durable: true });
    const second = open(runDir, true, () => all(), 4);
    await second.rewind(-1);
    for (let s = 1; s <= 3; s++) second.log({ loss: s }, { step: s });
    await second.close();
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual(range(1, 3));
    expect(tbSteps(runDir)).toEqual(range(1, 3));
    expect(wandbSteps(runDir)).toEqual(range(1, 3));
  });

  it('after rewind(S) the logger refuses steps at or below S', async () => {
    const runDir = join(root, `r${n++}`);
    const logger = open(runDir, true, () => [jsonlSink()], 5);
    await logger.rewind(5);
    logger.log({ loss: 1 }, { step: 5 });
    logger.log({ loss: 1 }, { step: 6 });
    await logger.close();
    expect(readJsonl(join(runDir, 'logs')).map((r) => r['step'])).toEqual([6]);
    expect(logger.stats.lowerStepCount).toBe(1);
  });
});
