import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetricRow, NoticeRecord, RunInfo } from '../types.js';
import { syncOfflineRun } from './sync.js';
import { type FakeWandb, startFakeWandb } from '@x/test-utils';
import { WandbSink, createWandbSink, type WandbSinkOptions } from './wandbSink.js';

const KEY = 'x'.repeat(8) + '0123456789abcdef0123456789abcdef';
const KEY_B64 = Buffer.from(`api:${KEY}`).toString('base64');
const dirs: string[] = [];
const outputs: string[] = [];
let server: FakeWandb;

const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'wandb-sink-'));
  dirs.push(d);
  return d;
};

const FAST = {
  flushIntervalMs: 15,
  heartbeatMs: 60_000,
  closeTimeoutMs: 15_000,
  requestTimeoutMs: 400,
  graphqlTimeoutMs: 400,
  retry: { minMs: 5, maxMs: 40 },
};

function env(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WANDB_MODE: mode,
    WANDB_API_KEY: KEY,
    WANDB_BASE_URL: server.url,
    WANDB_PROJECT: 'proj',
    NETRC: '/nonexistent/netrc',
    ...extra,
  };
}

function makeSink(
  mode: string,
  opts: Partial<WandbSinkOptions> & { config?: Record<string, unknown> } = {},
) {
  const notices: NoticeRecord[] = [];
  const sink = new WandbSink({
    env: env(mode),
    ...opts,
    config: { ...FAST, ...opts.config },
    onNotice: (n) => {
      notices.push(n);
      outputs.push(n.message);
    },
  });
  return { sink, notices };
}

function runInfo(runDir: string, resumed = false): RunInfo {
  return {
    runDir,
    pipeline: 'test',
    config: { lr: 0.1, model: { width: 4 } },
    startStep: 0,
    resumed,
  };
}

function row(step: number): MetricRow {
  return {
    step,
    time: 1_700_000_000 + step,
    values: {
      'train/loss': 1 / (step + 1),
      'train/nan': step % 7 === 0 ? NaN : step,
      'train/inf': step % 5 === 0 ? -Infinity : 0,
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

function expectRows(runId: string, from: number, to: number): void {
  const run = server.runs.get(runId);
  expect(run, `run ${runId} on the server`).toBeDefined();
  expect(run!.gaps).toEqual([]);
  expect(run!.conflicts).toEqual([]);
  const steps = server.rows(runId).map((r) => r['_step']);
  expect(steps).toEqual(Array.from({ length: to - from }, (_, i) => from + i));
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

beforeEach(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterEach(async () => {
  await server.close();
});
afterAll(() => {
  // The key never reaches any file the sink or sync wrote, nor any notice.
  for (const d of dirs) {
    for (const f of allFiles(d)) {
      const text = readFileSync(f, 'latin1');
      expect(text.includes(KEY), `key in ${f}`).toBe(false);
      expect(text.includes(KEY_B64), `encoded key in ${f}`).toBe(false);
    }
  }
  for (const o of outputs) {
    expect(o.includes(KEY)).toBe(false);
    expect(o.includes(KEY_B64)).toBe(false);
  }
});

describe('WandbSink files', () => {
  it('honours WANDB_DIR and keeps a key logged in the config out of run.json', async () => {
    const wandbDir = tmp();
    const runDir = join(tmp(), 'my-run');
    const sink = new WandbSink({ env: { ...env('offline'), WANDB_DIR: wandbDir }, config: FAST });
    sink.start({ ...runInfo(runDir), config: { leaked: KEY } });
    sink.writeRows([row(0)]);
    await sink.close({ exitCode: 0, preempting: false });
    expect(sink.dir).toBe(join(wandbDir, 'wandb', 'my-run'));
    expect(readFileSync(join(sink.dir!, 'run.json'), 'utf8')).toContain('***');
    const res = await syncOfflineRun(sink.dir!, { env: env('online') });
    expect(res.historyLines).toBe(1);
  });
});

describe('WandbSink modes', () => {
  it('is off for WANDB_MODE=disabled and when nothing enables it', () => {
    expect(
      createWandbSink({ env: { WANDB_MODE: 'disabled' }, config: { enabled: true } }),
    ).toBeUndefined();
    expect(createWandbSink({ env: {} })).toBeUndefined();
    expect(createWandbSink({ env: {}, config: { enabled: true } })?.mode).toBe('online');
  });

  it('falls back to offline with a notice when online has no API key', async () => {
    const runDir = tmp();
    const { sink, notices } = makeSink('online', { env: { ...env('online'), WANDB_API_KEY: '' } });
    sink.start(runInfo(runDir));
    sink.writeRows([row(0)]);
    await sink.close({ exitCode: 0, preempting: false });
    expect(sink.mode).toBe('offline');
    expect(notices[0]?.message).toContain(`runner wandb sync ${runDir}`);
    expect(server.requests).toEqual([]);
    const res = await syncOfflineRun(runDir, { env: env('online') });
    expect(res).toMatchObject({ historyLines: 1, state: 'complete' });
  });

  it('takes its config section from RunInfo.sinkConfig when constructed without one', async () => {
    const sink = new WandbSink({ env: { ...env('online'), WANDB_MODE: '' } });
    expect(sink.mode).toBe('disabled');
    sink.start({ ...runInfo(tmp()), sinkConfig: { ...FAST, enabled: true, mode: 'offline' } });
    expect(sink.mode).toBe('offline');
    await sink.close({ exitCode: 0, preempting: false });
  });
});

describe('WandbSink online', () => {
  it('delivers every row once, in order, at contiguous offsets through 500s, 429s, drops and slow answers', async () => {
    const sleeps: number[] = [];
    const { sink, notices } = makeSink('online', {
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return new Promise((resolve, reject) => {
          const t = setTimeout(resolve, Math.min(ms, 30));
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new Error('aborted'));
          });
        });
      },
    });
    server.inject({ match: 'graphql', kind: 'status', status: 500 });
    server.inject({ match: 'file_stream', kind: 'status', status: 500, times: 2 });
    server.inject({ match: 'file_stream', kind: 'status', status: 429, retryAfter: '7' });
    server.inject({ match: 'file_stream', kind: 'drop' });
    server.inject({ match: 'file_stream', kind: 'dropAfter', times: 2 });
    server.inject({ match: 'file_stream', kind: 'slow', delayMs: 1000 });
    server.inject({ match: 'file_stream', kind: 'rateLimit', retryAfter: '3' });
    const runDir = tmp();
    sink.start(runInfo(runDir));
    for (let s = 0; s < 300; s++) {
      sink.writeRows([row(s)]);
      if (s % 20 === 0) await tick();
    }
    await sink.close({ exitCode: 0, preempting: false });
    const runId = sink.runId!;
    expectRows(runId, 0, 300);
    const run = server.runs.get(runId)!;
    expect(run.complete).toBe(true);
    expect(run.exitcode).toBe(0);
    expect(run.rewrites).toBeGreaterThan(0);
    expect(run.config).toEqual({ lr: { value: 0.1 }, model: { value: { width: 4 } } });
    expect(run.project).toBe('proj');
    const raw = run.history[7]!;
    expect(raw).toContain('"train/nan":NaN');
    expect(run.history[5]).toContain('"train/inf":-Infinity');
    const r10 = server.rows(runId)[10]!;
    expect(r10).toMatchObject({ _step: 10, _timestamp: 1_700_000_010 });
    expect(typeof r10['_runtime']).toBe('number');
    expect(run.summary).toMatchObject({ _step: 299, 'train/nan': 299 });
    expect(sleeps).toContain(7000);
    expect(sleeps.some((ms) => ms > 2500 && ms <= 3000)).toBe(true);
    const faults = server.requests.map((r) => r.fault).filter(Boolean);
    expect(faults).toEqual(
      expect.arrayContaining(['status', 'drop', 'dropAfter', 'slow', 'rateLimit']),
    );
    for (const r of server.requests.filter((x) => x.server === 'api' && x.fault !== 'drop')) {
      expect(r.headers.authorization).toBe(`Basic ${KEY_B64}`);
    }
    expect(notices.some((n) => n.message.includes('rate limited'))).toBe(true);
    expect(notices.some((n) => n.message.includes('retry'))).toBe(true);
    expect(readFileSync(join(runDir, 'wandb', 'progress.json'), 'utf8')).toContain(
      '"completeSent": true',
    );
  });

  it('uploads pictures as HTML run files referenced from history, without credentials on upload URLs', async () => {
    const { sink } = makeSink('online');
    sink.start(runInfo(tmp()));
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>';
    sink.writeRows([row(0)]);
    sink.writePicture({ step: 0, time: 1_700_000_000, name: 'grid/board', svg });
    sink.writeRows([row(1)]);
    await sink.close({ exitCode: 0, preempting: false });
    const runId = sink.runId!;
    expectRows(runId, 0, 2);
    const media = server.rows(runId)[0]!['grid/board'] as Record<string, unknown>;
    expect(media).toMatchObject({ _type: 'html-file' });
    const path = media['path'] as string;
    expect(path).toMatch(/^media\/html\/grid_board_0_[0-9a-f]{20}\.html$/);
    const up = server.uploads.get(path);
    expect(up?.body.toString()).toContain(svg);
    expect(up?.body.length).toBe(media['size']);
    expect(server.runs.get(runId)!.uploaded).toEqual([path]);
    const storageReqs = server.requests.filter((r) => r.server === 'storage');
    expect(storageReqs.length).toBeGreaterThan(0);
    for (const r of storageReqs) expect(r.headers.authorization).toBeUndefined();
  });

  it('goes on with metrics when a picture upload fails for good', async () => {
    server.inject({ match: 'upload', kind: 'status', status: 403 });
    const { sink, notices } = makeSink('online');
    sink.start(runInfo(tmp()));
    sink.writePicture({ step: 0, time: 1_700_000_000, name: 'viz', svg: '<svg/>' });
    for (let s = 0; s < 5; s++) sink.writeRows([row(s)]);
    await sink.close({ exitCode: 0, preempting: false });
    expectRows(sink.runId!, 0, 5);
    expect(server.runs.get(sink.runId!)!.uploaded).toEqual([]);
    expect(server.runs.get(sink.runId!)!.complete).toBe(true);
    expect(notices.some((n) => n.message.includes('not uploaded'))).toBe(true);
  });

  it('appends after the lines a reused WANDB_RUN_ID already has, never overwriting them', async () => {
    const first = new WandbSink({
      env: { ...env('online'), WANDB_RUN_ID: 'reused01' },
      config: FAST,
    });
    first.start(runInfo(tmp()));
    for (let s = 0; s < 5; s++) first.writeRows([row(s)]);
    await first.close({ exitCode: 0, preempting: false });
    const { sink, notices } = makeSink('online', {
      env: { ...env('online'), WANDB_RUN_ID: 'reused01' },
    });
    sink.start(runInfo(tmp()));
    for (let s = 100; s < 103; s++) sink.writeRows([row(s)]);
    await sink.close({ exitCode: 0, preempting: false });
    const run = server.runs.get('reused01')!;
    expect(run.gaps).toEqual([]);
    expect(run.conflicts).toEqual([]);
    expect(server.rows('reused01').map((r) => r['_step'])).toEqual([0, 1, 2, 3, 4, 100, 101, 102]);
    expect(notices.some((n) => n.message.includes('appended'))).toBe(true);
  });

  it('keeps trying after retries run out (the data waits on disk), then delivers', async () => {
    server.down = true;
    const { sink, notices } = makeSink('online', {
      config: { retry: { minMs: 5, maxMs: 10, maxAttempts: 2, graphqlMaxAttempts: 2 } },
    });
    sink.start(runInfo(tmp()));
    for (let s = 0; s < 20; s++) sink.writeRows([row(s)]);
    await new Promise((r) => setTimeout(r, 250));
    expect(sink.stats().stalled).toBe(false);
    expect(notices.some((n) => n.message.includes('trying again'))).toBe(true);
    server.down = false;
    await new Promise((r) => setTimeout(r, 100));
    await sink.close({ exitCode: 0, preempting: false });
    expectRows(sink.runId!, 0, 20);
  });

  it('sends heartbeats when idle', async () => {
    const { sink } = makeSink('online', { config: { heartbeatMs: 30 } });
    sink.start(runInfo(tmp()));
    sink.writeRows([row(0)]);
    await new Promise((r) => setTimeout(r, 300));
    await sink.close({ exitCode: 3, preempting: false });
    const run = server.runs.get(sink.runId!)!;
    expect(run.heartbeats).toBeGreaterThan(0);
    expect(run.exitcode).toBe(3);
  });

  it('keeps memory bounded while the server is down, then delivers everything once', async () => {
    server.down = true;
    const { sink, notices } = makeSink('online', { config: { maxMemoryBytes: 8192 } });
    sink.start(runInfo(tmp()));
    let peak = 0;
    for (let s = 0; s < 5000; s++) {
      sink.writeRows([row(s)]);
      peak = Math.max(peak, sink.stats().memoryBytes);
      if (s % 500 === 0) await tick();
    }
    expect(peak).toBeLessThanOrEqual(2 * 8192);
    expect(sink.stats().spilling).toBe(true);
    expect(notices.some((n) => n.message.includes('spool'))).toBe(true);
    server.down = false;
    await sink.close({ exitCode: 0, preempting: false });
    expectRows(sink.runId!, 0, 5000);
    expect(server.runs.get(sink.runId!)!.complete).toBe(true);
  });

  it('stops on a non-retryable status without printing the key, and sync finishes the run later', async () => {
    server.inject({
      match: 'file_stream',
      kind: 'status',
      status: 403,
      body: `forbidden for key ${KEY}`,
    });
    const { sink, notices } = makeSink('online');
    const runDir = tmp();
    sink.start(runInfo(runDir));
    for (let s = 0; s < 50; s++) sink.writeRows([row(s)]);
    await sink.flush();
    await sink.close({ exitCode: 0, preempting: false });
    const err = notices.find((n) => n.level === 'error');
    expect(err?.message).toContain('403');
    expect(err?.message).toContain(`runner wandb sync ${runDir}`);
    expect(err?.message).not.toContain(KEY);
    const res = await syncOfflineRun(runDir, { env: env('online') });
    expect(res.state).toBe('complete');
    expectRows(sink.runId!, 0, 50);
    expect(server.runs.get(sink.runId!)!.complete).toBe(true);
  });
});
