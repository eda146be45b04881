import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ExperimentLogger } from '../experimentLogger.js';
import { consoleSink } from './consoleSink.js';
import { formatDuration, formatValue, progressBar } from './format.js';

function fakeStream(tty: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY: tty, columns: 100, rows: 40, text: () => chunks.join('') });
  return w;
}

const run = {
  runDir: '/nonexistent',
  pipeline: 'demo',
  config: {},
  startStep: 0,
  resumed: false,
  totalSteps: 100,
};

describe('console formatting', () => {
  it('formats values, durations and bars', () => {
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(-Infinity)).toBe('-Infinity');
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(12)).toBe('12');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(65)).toBe('1:05');
    expect(progressBar(0.5, 10)).toBe('█████░░░░░');
  });
});

describe('console sink', () => {
  it('prints plain lines without a TTY, at the cadence, with warnings and no colors', async () => {
    const stream = fakeStream(false);
    let t = 0;
    const logger = new ExperimentLogger({
      run,
      now: () => t,
      sinks: [{ sink: consoleSink({ stream }), every: { steps: 10 } }],
    });
    for (let s = 0; s < 30; s++) {
      t = s * 100;
      logger.log({ loss: 1 / (s + 1) }, { step: s });
      if (s % 10 === 0) logger.log({ acc: 0.5 }, { step: s, category: 'eval' });
    }
    logger.log({ loss: 9 }, { step: 3 });
    await logger.close();
    const text = stream.text();
    const lines = text.trim().split('\n');
    const progress = lines.filter((l) => l.startsWith('[demo] step'));
    expect(progress.length).toBe(4);
    expect(progress[1]).toMatch(
      /^\[demo\] step 10\/100 10\.0% · 10\.0 steps\/s · ETA 0:09 \| train loss=0\.09091 \| eval acc=0\.5$/,
    );
    expect(text).toMatch(/^warn: dropped 'train' values \(loss\) at step 3 after step 29/m);
    expect(text).not.toContain('\u001b[');
  });

  it('quiet shows only errors', async () => {
    const stream = fakeStream(false);
    const logger = new ExperimentLogger({ run, sinks: [consoleSink({ stream, quiet: true })] });
    logger.log({ loss: 1 }, { step: 1 });
    logger.notice('warn', 'a warning');
    logger.notice('error', 'an error');
    await logger.close();
    expect(stream.text()).toBe('error: an error\n');
  });

  it('renders the ink live view on a TTY: progress bar, metrics by category, warnings', async () => {
    const stream = fakeStream(true);
    const logger = new ExperimentLogger({
      run,
      sinks: [consoleSink({ stream, debugRender: true, color: false })],
    });
    for (let s = 0; s <= 50; s++) logger.log({ loss: 0.25, lr: 0.001 }, { step: s });
    logger.log({ acc: 0.75 }, { step: 50, category: 'eval' });
    logger.notice('warn', 'sink x is retrying');
    await logger.close();
    const text = stream.text();
    expect(text).toContain('demo');
    expect(text).toContain('█'.repeat(20));
    expect(text).toMatch(/step 50\/100 50\.0%/);
    expect(text).toMatch(/train\s+loss=0\.25 lr=0\.001/);
    expect(text).toMatch(/eval\s+acc=0\.75/);
    expect(text).toContain('warn: sink x is retrying');
  });
});
