import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeComponentContract } from '@x/core/testing';
import { isXError } from '@x/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetricRow, RunInfo } from '../types.js';
import { syncOfflineRun } from './sync.js';
import { type FakeWandb, startFakeWandb } from '@x/test-utils';
import { WandbSink, type WandbSinkState } from './wandbSink.js';

const KEY = 'resume-test-key-0123456789abcdef0123456789';
let server: FakeWandb;
const FAST = {
  flushIntervalMs: 15,
  closeTimeoutMs: 15_000,
  requestTimeoutMs: 1000,
  graphqlTimeoutMs: 1000,
  retry: { minMs: 5, maxMs: 40 },
};
const tmp = () => mkdtempSync(join(tmpdir(), 'wandb-resume-'));
const env = (mode: string) => ({
  WANDB_MODE: mode,
  WANDB_API_KEY: KEY,
  WANDB_BASE_URL: server?.url ?? 'http://127.0.0.1:9',
  WANDB_PROJECT: 'proj',
  NETRC: '/nonexistent',
});
const info = (runDir: string, resumed = false): RunInfo => ({
  runDir,
  pipeline: 'test',
  config: { seed: 1 },
  startStep: 0,
  resumed,
});
const row = (step: number): MetricRow => ({
  step,
  time: 1_700_000_000 + step,
  values: { loss: 1 / (step + 1), acc: step === 3 ? NaN : step / 100 },
});
const svg = (step: number) => `<svg xmlns="http://www.w3.org/2000/svg"><text>${step}</text></svg>`;

function steps(runId: string): unknown[] {
  const run = server.runs.get(runId)!;
  expect(run.gaps).toEqual([]);
  expect(run.conflicts).toEqual([]);
  return server.rows(runId).map((r) => r['_step']);
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const withoutRuntime = (rows: Record<string, unknown>[]) =>
  rows.map(({ _runtime: _r, ...rest }) => rest);

beforeEach(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterEach(async () => {
  await server.close();
});

function logRun(sink: WandbSink, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    sink.writeRows([row(s)]);
    if (s % 10 === 3)
      sink.writePicture({ step: s, time: 1_700_000_000 + s, name: 'viz/board', svg: svg(s) });
  }
}

describe('offline mode and sync', () => {
  it('writes everything to <run-dir>/wandb offline; sync delivers the same rows as online, exactly once, resumably', async () => {
    const offDir = tmp();
    const off = new WandbSink({ env: env('offline'), config: FAST });
    off.start(info(offDir));
    logRun(off, 0, 120);
    off.writeNotice({
      time: 1_700_000_000,
      level: 'warn',
      source: 'logger',
      message: 'multi\nline',
    });
    await off.close({ exitCode: 0, preempting: false });
    expect(server.requests).toEqual([]);
    expect(off.notices.filter((n) => n.level !== 'info')).toEqual([]);
    const wdir = join(offDir, 'wandb');
    expect(readFileSync(join(wdir, 'history.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(
      120,
    );
    expect(readFileSync(join(wdir, 'output.log'), 'utf8')).toContain('[warn] logger: multi');

    // First sync is interrupted by a non-retryable answer after two requests.
    server.inject({ match: /file_stream/, kind: 'status', status: 400, times: 1 });
    const small = { ...FAST, maxRequestBytes: 2048 };
    await expect(syncOfflineRun(offDir, { env: env('online'), config: small })).rejects.toSatisfy(
      (e: unknown) => isXError(e) && /progress is saved/.test((e as Error).message),
    );
    const first = await syncOfflineRun(offDir, { env: env('online'), config: small });
    expect(first.state).toBe('complete');
    const runId = off.runId!;
    expect(steps(runId)).toEqual(range(0, 120));
    expect(server.runs.get(runId)!.complete).toBe(true);
    expect(server.runs.get(runId)!.output.some((l) => l.includes('multi'))).toBe(true);
    const historyBefore = [...server.runs.get(runId)!.history];
    const again = await syncOfflineRun(offDir, { env: env('online'), config: small });
    expect(again).toMatchObject({ historySent: 0, outputSent: 0, filesSent: 0 });
    expect(server.runs.get(runId)!.history).toEqual(historyBefore);

    // The same data logged online gives the same server-side rows.
    const on = new WandbSink({ env: env('online'), config: FAST });
    on.start(info(tmp()));
    logRun(on, 0, 120);
    await on.close({ exitCode: 0, preempting: false });
    expect(withoutRuntime(server.rows(on.runId!))).toEqual(withoutRuntime(server.rows(runId)));
    const uploadedOff = server.runs.get(runId)!.uploaded;
    expect(uploadedOff).toHaveLength(12);
    expect([...server.runs.get(on.runId!)!.uploaded].sort()).toEqual([...uploadedOff].sort());
  });
});

describe('resume', () => {
  it('continues the same run at the server line count when the server is ahead of the checkpoint', async () => {
    const runDir = tmp();
    const a = new WandbSink({ env: env('online'), config: FAST });
    a.start(info(runDir));
    logRun(a, 0, 6);
    const state = structuredClone(a.getState());
    expect(state.historyLines).toBe(6);
    logRun(a, 6, 10);
    a.preempt();
    await a.close({ exitCode: 143, preempting: true });
    const runId = a.runId!;
    expect(steps(runId)).toEqual(range(0, 10));
    expect(server.runs.get(runId)!.preempting).toBeGreaterThan(0);
    expect(server.runs.get(runId)!.complete).toBe(false);

    const b = new WandbSink({ env: env('online'), config: FAST });
    b.start(info(runDir, true));
    b.setState(state);
    logRun(b, 6, 15);
    await b.close({ exitCode: 0, preempting: false });
    expect(b.runId).toBe(runId);
    expect(steps(runId)).toEqual(range(0, 15));
    expect(server.runs.get(runId)!.complete).toBe(true);
    expect(server.runs.get(runId)!.upserts).toBe(2);
    expect(server.runs.get(runId)!.summary).toMatchObject({ _step: 14, loss: 1 / 15 });
    expect(server.runs.get(runId)!.rewrites).toBe(0);
    const local = readFileSync(join(runDir, 'wandb', 'history.jsonl'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(
      local.map((l) => (JSON.parse(l.replace(/NaN/g, 'null')) as { _step: number })._step),
    ).toEqual(range(0, 15));
  });

  it('uploads the spooled rows the server missed when it is behind the checkpoint', async () => {
    const runDir = tmp();
    server.down = true;
    const a = new WandbSink({ env: env('online'), config: { ...FAST, closeTimeoutMs: 200 } });
    a.start(info(runDir));
    logRun(a, 0, 6);
    const state: WandbSinkState = structuredClone(a.getState());
    logRun(a, 6, 10);
    await a.close({ exitCode: 1, preempting: false });
    expect(a.notices.some((n) => n.message.includes('runner wandb sync'))).toBe(true);
    server.down = false;
    const b = new WandbSink({ env: env('online'), config: FAST });
    b.setState(state);
    b.start(info(runDir, true));
    logRun(b, 6, 12);
    await b.close({ exitCode: 0, preempting: false });
    expect(b.runId).toBe(a.runId);
    expect(steps(b.runId!)).toEqual(range(0, 12));
  });
});

let counter = 0;
describeComponentContract<WandbSinkState>('WandbSink', {
  create: () => new WandbSink({ env: env('offline'), config: FAST, seed: String(counter++) }),
  mutate: (c) => {
    const sink = c as WandbSink;
    if (sink.dir === undefined) sink.start(info(tmp()));
    sink.writeRows([row(sink.getState().historyLines)]);
  },
});
