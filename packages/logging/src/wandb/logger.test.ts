import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ExperimentLogger, type LoggerState } from '../experimentLogger.js';
import { type FakeWandb, startFakeWandb } from '@x/test-utils';
import { WandbSink } from './wandbSink.js';

const KEY = 'logger-integration-key-0123456789abcdef012';
let server: FakeWandb;
beforeEach(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterEach(async () => {
  await server.close();
});

const env = () => ({
  WANDB_MODE: 'online',
  WANDB_API_KEY: KEY,
  WANDB_BASE_URL: server.url,
  NETRC: '/nonexistent',
});
const config = { flushIntervalMs: 15, retry: { minMs: 5, maxMs: 40 } };

function makeLogger(runDir: string, resumed: boolean) {
  const sink = new WandbSink({ env: env(), config });
  const logger = new ExperimentLogger({
    run: { runDir, pipeline: 'ired', config: { seed: 3 }, startStep: 0, resumed },
    sinks: [sink],
  });
  return { sink, logger };
}

it('through the ExperimentLogger: a run preempted after its checkpoint resumes into the same W&B run without duplicate or missing steps', async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'wandb-logger-'));
  const a = makeLogger(runDir, false);
  let checkpoint: LoggerState | undefined;
  for (let s = 0; s < 30; s++) {
    a.logger.log({ loss: 1 / (s + 1) }, { step: s });
    a.logger.log({ acc: s / 30 }, { step: s, category: 'eval' });
    if (s === 17) checkpoint = structuredClone(a.logger.getState());
    if (s % 4 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  a.sink.preempt();
  await a.logger.close({ exitCode: 143, preempting: true });
  const runId = a.sink.runId!;
  expect(server.rows(runId).map((r) => r['_step'])).toEqual(
    Array.from({ length: 30 }, (_, i) => i),
  );
  expect(server.runs.get(runId)!.project).toBe('ired');

  const b = makeLogger(runDir, true);
  b.logger.setState(checkpoint!);
  for (let s = 18; s < 40; s++) {
    b.logger.log({ loss: 1 / (s + 1) }, { step: s });
    b.logger.log({ acc: s / 30 }, { step: s, category: 'eval' });
  }
  await b.logger.close({ exitCode: 0, preempting: false });
  expect(b.sink.runId).toBe(runId);
  const run = server.runs.get(runId)!;
  expect(run.gaps).toEqual([]);
  expect(run.conflicts).toEqual([]);
  const rows = server.rows(runId);
  expect(rows.map((r) => r['_step'])).toEqual(Array.from({ length: 40 }, (_, i) => i));
  expect(rows[25]).toMatchObject({ 'train/loss': 1 / 26, 'eval/acc': 25 / 30 });
  expect(run.complete).toBe(true);
});
