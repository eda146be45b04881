import { isXError } from '@x/core';
import { describeComponentContract } from '@x/core/testing';
import { describe, expect, it } from 'vitest';
import { parseLoggingConfig } from './config.js';
import { ExperimentLogger, type LoggerState } from './experimentLogger.js';
import { HIGH_WATER } from './sinkRunner.js';
import type { MetricRow, NoticeRecord, Sink } from './types.js';

const run = { runDir: '/nonexistent', pipeline: 'test', config: {}, startStep: 0, resumed: false };

class MemorySink implements Sink {
  rows: MetricRow[] = [];
  calls: number[] = [];
  notices: NoticeRecord[] = [];
  state = { id: 'abc' };
  constructor(readonly name = 'mem') {}
  writeRows(rows: readonly MetricRow[]): void {
    this.calls.push(rows.length);
    this.rows.push(...rows);
  }
  writeNotice(n: NoticeRecord): void {
    this.notices.push(n);
  }
  getState() {
    return { ...this.state };
  }
  setState(s: unknown) {
    this.state = { ...(s as { id: string }) };
  }
}

function make(lowerStep: 'error' | 'warn' | 'drop' = 'warn', sinks: Sink[] = [new MemorySink()]) {
  const notices: NoticeRecord[] = [];
  const logger = new ExperimentLogger({
    run,
    sinks,
    config: parseLoggingConfig({ lowerStep }),
    onNotice: (n) => notices.push(n),
  });
  return { logger, notices, sink: sinks[0] as MemorySink };
}

describe('ExperimentLogger', () => {
  it('merges values of the same step into one row and commits on a higher step', async () => {
    const { logger, sink } = make();
    logger.log({ loss: 1 }, { step: 1 });
    logger.log({ acc: 0.5 }, { step: 1, category: 'eval' });
    logger.log({ loss: 2 }, { step: 1 });
    expect(sink.rows).toEqual([]);
    logger.log({ loss: 3 }, { step: 2 });
    await logger.flush();
    expect(sink.rows).toHaveLength(1);
    expect(sink.rows[0]!.step).toBe(1);
    expect(sink.rows[0]!.values).toEqual({ 'train/loss': 2, 'eval/acc': 0.5 });
    await logger.close({ exitCode: 0, preempting: false });
    expect(sink.rows.map((r) => r.step)).toEqual([1, 2]);
  });

  it('log() never waits for a slow sink: later rows coalesce until it is done', async () => {
    let release!: () => void;
    const batches: number[][] = [];
    const slow: Sink = {
      name: 'slow',
      writeRows(rows) {
        batches.push(rows.map((r) => r.step));
        if (batches.length === 1) return new Promise<void>((res) => (release = res));
        return undefined;
      },
    };
    const { logger } = make('warn', [slow]);
    for (let s = 0; s < 6; s++) logger.log({ x: s }, { step: s });
    // Nothing runs on log()'s stack: the batches (one per commit) wait for a later macrotask.
    expect(batches).toEqual([]);
    await new Promise((res) => setImmediate(res));
    expect(batches).toEqual([[0]]);
    for (let s = 6; s < 10; s++) logger.log({ x: s }, { step: s });
    release();
    await new Promise((res) => setImmediate(res));
    await logger.close();
    // Batches cut before the promise stay as cut; rows committed while it was pending coalesce.
    expect(batches).toEqual([[0], [1], [2], [3], [4], [5, 6, 7, 8], [9]]);
  });

  it('back-pressure: a caller that never yields gets its rows handed over inline, none dropped', async () => {
    const sink = new MemorySink();
    const notices: NoticeRecord[] = [];
    const logger = new ExperimentLogger({
      run,
      sinks: [{ sink, every: { steps: 100 } }],
      onNotice: (n) => notices.push(n),
    });
    const n = 3 * HIGH_WATER;
    for (let s = 0; s < n; s++) logger.log({ x: s }, { step: s });
    // No yield in between: what was cut beyond HIGH_WATER items was handed over on the stack.
    expect(sink.rows.length).toBeGreaterThanOrEqual(n - 2 * HIGH_WATER);
    expect(sink.calls.every((c) => c <= 100)).toBe(true); // the cadence's batches, not merged
    await logger.close();
    expect(sink.rows.map((r) => r.step)).toEqual([...Array(n).keys()]);
    expect(notices).toEqual([]);
  });

  it('cuts a full buffer early (memory bound) when the cadence is far away', async () => {
    const sink = new MemorySink();
    const logger = new ExperimentLogger({ run, sinks: [{ sink, every: { seconds: 3600 } }] });
    for (let s = 0; s <= HIGH_WATER + 1; s++) logger.log({ x: s }, { step: s });
    await new Promise((res) => setImmediate(res));
    expect(sink.calls).toEqual([1, HIGH_WATER]);
    await logger.close();
    expect(sink.rows).toHaveLength(HIGH_WATER + 2);
  });

  it('flushNow() hands everything over on the stack and lets sinks write synchronously', () => {
    const sink = new MemorySink();
    let synced = 0;
    Object.assign(sink, { flushSync: () => void synced++ });
    const logger = new ExperimentLogger({ run, sinks: [{ sink, every: { steps: 1000 } }] });
    for (let s = 0; s < 5; s++) logger.log({ x: s }, { step: s });
    logger.flushNow();
    expect(sink.rows.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    expect(synced).toBe(1);
  });

  it('bounds what waits for a stuck sink, dropping the oldest with a notice', () => {
    const stuck: Sink = {
      name: 'stuck',
      start: () => new Promise<void>(() => undefined),
      writeRows: () => undefined,
    };
    const notices: NoticeRecord[] = [];
    const logger = new ExperimentLogger({ run, sinks: [stuck], onNotice: (n) => notices.push(n) });
    for (let s = 0; s <= 100_001; s++) logger.log({ x: s }, { step: s });
    expect(notices.map((n) => n.message)).toEqual([
      "sink 'stuck' is too slow: dropped its 10000 oldest buffered items so far",
    ]);
  });

  it('isolates a failing sink: reported once per kind, disabled after repeated failures', async () => {
    let calls = 0;
    const bad: Sink = {
      name: 'bad',
      writeRows() {
        calls++;
        throw new Error(`disk on fire #${calls}`);
      },
    };
    const good = new MemorySink('good');
    const notices: NoticeRecord[] = [];
    const logger = new ExperimentLogger({
      run,
      sinks: [bad, good],
      config: parseLoggingConfig({ disableAfter: 3 }),
      onNotice: (n) => notices.push(n),
    });
    for (let s = 0; s < 10; s++) logger.log({ x: s }, { step: s });
    await logger.close();
    expect(calls).toBe(3);
    expect(
      notices.filter((n) => n.message.includes("sink 'bad' failed in writeRows")),
    ).toHaveLength(1);
    expect(
      notices.filter((n) => n.message.includes("sink 'bad' disabled after 3 failures")),
    ).toHaveLength(1);
    expect(logger.disabledSinks).toEqual(['bad']);
    expect(good.rows.map((r) => r.step)).toEqual([...Array(10).keys()]);
    expect(good.notices.some((n) => n.level === 'error')).toBe(true);
  });

  it('delivers on each sink’s cadence: every N steps and/or T seconds', async () => {
    let t = 0;
    const bySteps = new MemorySink('steps');
    const bySeconds = new MemorySink('seconds');
    const logger = new ExperimentLogger({
      run,
      now: () => t,
      sinks: [
        { sink: bySteps, every: { steps: 4 } },
        { sink: bySeconds, every: { seconds: 10 } },
      ],
    });
    for (let s = 0; s < 13; s++) {
      t = s * 1000;
      logger.log({ x: s }, { step: s });
    }
    expect(bySteps.calls).toEqual([]);
    await new Promise((res) => setImmediate(res));
    // The batches were cut at the cadence, on commit; only the hand-over waited (one sink per
    // turn of the event loop: the second one follows in the next).
    expect(bySteps.calls).toEqual([1, 4, 4]);
    expect(bySeconds.calls).toEqual([]);
    await new Promise((res) => setImmediate(res));
    expect(bySeconds.calls).toEqual([1, 10]);
    await logger.close();
    expect(bySteps.rows.map((r) => r.step)).toEqual([...Array(13).keys()]);
    expect(bySeconds.rows).toHaveLength(13);
  });

  it('warns about a lower step, never silently', async () => {
    const { logger, sink, notices } = make('warn');
    logger.log({ a: 1 }, { step: 5 });
    logger.log({ a: 2 }, { step: 3 });
    expect(logger.stats.lowerStepCount).toBe(1);
    expect(notices.some((n) => n.level === 'warn' && /step 3 after step 5/.test(n.message))).toBe(
      true,
    );
    await logger.close();
    expect(sink.rows.map((r) => r.values['train/a'])).toEqual([1]);
    expect(sink.notices.length).toBeGreaterThan(0);
  });

  it('throws on a lower step with lowerStep: error', () => {
    const { logger } = make('error');
    logger.log({ a: 1 }, { step: 5 });
    let err: unknown;
    try {
      logger.log({ a: 2 }, { step: 4 });
    } catch (e) {
      err = e;
    }
    expect(isXError(err, 'INVALID_INPUT')).toBe(true);
    expect((err as Error).message).toContain('step 4 after step 5');
  });

  it('drops lower steps with lowerStep: drop, reporting once and at close', async () => {
    const { logger, notices } = make('drop');
    logger.log({ a: 1 }, { step: 5 });
    logger.log({ a: 2 }, { step: 4 });
    logger.log({ a: 2 }, { step: 3 });
    expect(notices.filter((n) => /lower step/.test(n.message))).toHaveLength(1);
    await logger.close();
    expect(notices.some((n) => /2 log\(\) call\(s\) at a lower step/.test(n.message))).toBe(true);
  });

  it('after setState (resume) accepts only steps above the checkpointed one', async () => {
    const { logger, sink, notices } = make();
    logger.setState({ step: 40, lowerStepCount: 0, sinks: { mem: { id: 'run-7' } } });
    expect(sink.state).toEqual({ id: 'run-7' });
    logger.log({ a: 1 }, { step: 40 });
    logger.log({ a: 2 }, { step: 41 });
    await logger.close();
    expect(notices.some((n) => n.message.includes('at step 40 after resumed step 40'))).toBe(true);
    expect(sink.rows.map((r) => r.step)).toEqual([41]);
  });

  it('treats a step equal to a committed step as lower', () => {
    const { logger } = make();
    logger.log({ a: 1 }, { step: 1 });
    logger.log({ a: 1 }, { step: 2 });
    logger.log({ b: 1 }, { step: 1 });
    expect(logger.stats.lowerStepCount).toBe(1);
  });

  it('passes sink notices (RunInfo.notify) to the other sinks, tagged with the sink name', async () => {
    let notify: ((l: 'warn', m: string) => void) | undefined;
    const noisy: Sink = { name: 'noisy', start: (run) => void (notify = run.notify) };
    const mem = new MemorySink();
    const logger = new ExperimentLogger({ run, sinks: [noisy, mem] });
    notify?.('warn', 'retrying in 2 s');
    await logger.close();
    expect(mem.notices).toMatchObject([
      { level: 'warn', source: 'noisy', message: 'retrying in 2 s' },
    ]);
  });

  it('gives each sink its config section as RunInfo.sinkConfig (logging.<name> or sinks.<name>)', () => {
    const seen: Record<string, unknown> = {};
    const probe = (name: string): Sink => ({
      name,
      start: (r) => void (seen[name] = r.sinkConfig),
    });
    new ExperimentLogger({
      run,
      sinks: [probe('wandb'), probe('jsonl'), probe('other')],
      config: parseLoggingConfig({ wandb: { enabled: true }, sinks: { jsonl: { maxBytes: 10 } } }),
    });
    expect(seen['wandb']).toEqual({ enabled: true });
    expect(seen['jsonl']).toMatchObject({ maxBytes: 10 });
    expect(seen['other']).toBeUndefined();
  });

  it('close() returns by its deadline even when a sink hangs, saying so', async () => {
    const hang: Sink = { name: 'hang', close: () => new Promise<void>(() => undefined) };
    const mem = new MemorySink();
    const notices: NoticeRecord[] = [];
    const logger = new ExperimentLogger({
      run,
      sinks: [hang, mem],
      config: parseLoggingConfig({ closeTimeoutSeconds: 0.2 }),
      onNotice: (n) => notices.push(n),
    });
    logger.log({ a: 1 }, { step: 1 });
    await logger.close();
    expect(mem.rows).toHaveLength(1);
    expect(notices.at(-1)?.message).toContain('did not finish within 0.2 s');
  });

  it('reports non-numeric values once and skips them', async () => {
    const { logger, sink, notices } = make();
    logger.log({ a: 'x', b: true, c: { dataSync: () => new Float32Array([2.5]) } }, { step: 0 });
    logger.log({ a: 'y' }, { step: 1 });
    await logger.close();
    expect(sink.rows[0]!.values).toEqual({ 'train/b': 1, 'train/c': 2.5 });
    expect(notices.filter((n) => n.message.includes("'train/a'"))).toHaveLength(1);
  });
});

describeComponentContract<LoggerState>('ExperimentLogger', {
  create: () => new ExperimentLogger({ run, sinks: [new MemorySink()] }),
  mutate: (c) => {
    const l = c as ExperimentLogger;
    l.log({ x: 1 }, { step: l.step + 1 });
  },
});
