import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XError } from '@x/core';
import { type FakeWandb, evalTs, startFakeWandb } from '@x/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../types.js';
import { WandbSink } from './wandbSink.js';

const KEY = 'resume-key-0123456789abcdef0123456789abcd';
let server: FakeWandb;
const root = mkdtempSync(join(tmpdir(), 'wandb-resume-'));
let n = 0;

beforeAll(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});

const FAST = {
  flushIntervalMs: 15,
  heartbeatMs: 60_000,
  closeTimeoutMs: 15_000,
  requestTimeoutMs: 2000,
  graphqlTimeoutMs: 2000,
  retry: { minMs: 5, maxMs: 40 },
  systemMetrics: false,
};

function open(extraEnv: Record<string, string>, runDir = join(root, `r${++n}`), config = {}) {
  const sink = new WandbSink({
    env: {
      WANDB_MODE: 'online',
      WANDB_API_KEY: KEY,
      WANDB_BASE_URL: server.url,
      WANDB_PROJECT: 'resume',
      NETRC: '/nonexistent',
      ...extraEnv,
    },
    config: { ...FAST, ...config },
  });
  const info: RunInfo = { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false };
  sink.start(info);
  return { sink, runDir };
}

async function logAndClose(sink: WandbSink, steps: number[]): Promise<void> {
  for (const s of steps) sink.writeRows([{ step: s, time: 1_700_000_000 + s, values: { x: s } }]);
  await sink.close({ exitCode: 0, preempting: false });
}

async function rejection(p: Promise<unknown>): Promise<XError> {
  try {
    await p;
  } catch (err) {
    return err as XError;
  }
  throw new Error('expected a rejection');
}

describe('WANDB_RESUME', () => {
  it('must: the run does not exist ⇒ NOT_FOUND naming it, and nothing is created', async () => {
    const { sink } = open({ WANDB_RESUME: 'must', WANDB_RUN_ID: 'nosuchrun1' });
    const err = await rejection(sink.verifyResume());
    expect(err).toBeInstanceOf(XError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain("WANDB_RESUME=must but run nosuchrun1 doesn't exist");
    await logAndClose(sink, [0, 1]);
    expect(server.runs.has('nosuchrun1')).toBe(false);
  });

  it('must: the run exists ⇒ continues it after its history lines', async () => {
    server.seedRun('mustrun1', { project: 'resume', historyLines: 3 });
    const { sink } = open({ WANDB_RESUME: 'must', WANDB_RUN_ID: 'mustrun1' });
    await sink.verifyResume();
    await logAndClose(sink, [3, 4]);
    const rows = server.rows('mustrun1');
    expect(rows).toHaveLength(5);
    expect(rows.slice(3).map((r) => r['_step'])).toEqual([3, 4]);
    expect(server.runs.get('mustrun1')?.gaps).toEqual([]);
  });

  it('must without a run id ⇒ INVALID_CONFIG asking for WANDB_RUN_ID', async () => {
    const { sink } = open({ WANDB_RESUME: 'must' });
    const err = await rejection(sink.verifyResume());
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('set WANDB_RUN_ID');
    await sink.close({ exitCode: 2, preempting: false });
  });

  it('never: the run exists ⇒ INVALID_INPUT and the run is left alone', async () => {
    const run = server.seedRun('neverrun1', { project: 'resume', historyLines: 2 });
    const { sink } = open({ WANDB_RESUME: 'never', WANDB_RUN_ID: 'neverrun1' });
    const err = await rejection(sink.verifyResume());
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('WANDB_RESUME=never but run neverrun1 exists');
    await logAndClose(sink, [0]);
    expect(run.upserts).toBe(0);
    expect(run.history).toHaveLength(2);
  });

  it('never / allow: the run does not exist ⇒ a new run with that id', async () => {
    for (const mode of ['never', 'allow']) {
      const id = `new${mode}1`;
      const { sink } = open({ WANDB_RESUME: mode, WANDB_RUN_ID: id });
      await sink.verifyResume();
      await logAndClose(sink, [0, 1, 2]);
      expect(server.rows(id).map((r) => r['_step'])).toEqual([0, 1, 2]);
    }
  });

  it('allow: the run exists ⇒ continued (from another directory)', async () => {
    server.seedRun('allowrun1', { project: 'resume', historyLines: 4 });
    const { sink } = open({ WANDB_RESUME: 'allow', WANDB_RUN_ID: 'allowrun1' });
    await sink.verifyResume();
    await logAndClose(sink, [4, 5]);
    expect(server.rows('allowrun1')).toHaveLength(6);
    expect(server.runs.get('allowrun1')?.gaps).toEqual([]);
  });

  it('auto: a restart in the same directory continues the run recorded there', async () => {
    const first = open({});
    await logAndClose(first.sink, [0, 1]);
    const id = first.sink.runId as string;
    const again = open({ WANDB_RESUME: 'auto' }, first.runDir);
    expect(again.sink.runId).toBe(id);
    await again.sink.verifyResume();
    await logAndClose(again.sink, [2, 3]);
    expect(server.rows(id).map((r) => r['_step'])).toEqual([0, 1, 2, 3]);
    // `never` does not refuse a run this directory created itself (a restart, a re-sync).
    const third = open({ WANDB_RESUME: 'never', WANDB_RUN_ID: id }, first.runDir);
    await third.sink.verifyResume();
    await third.sink.close({ exitCode: 0, preempting: false });
  });

  it('a bad WANDB_RESUME is INVALID_CONFIG naming the variable', () => {
    expect(() => open({ WANDB_RESUME: 'sometimes' })).toThrow(/WANDB_RESUME: expected allow, must/);
  });
});

describe('system metrics', () => {
  it('sampled on their own cadence as system.* rows of wandb-events.jsonl; the timer stops on close', async () => {
    const { sink, runDir } = open({}, undefined, { systemMetrics: { everySeconds: 0.1 } });
    sink.setSystemProbe(() => ({ 'gpu.0.memoryAllocatedBytes': 12345 }));
    sink.writeRows([{ step: 0, time: 1_700_000_000, values: { x: 0 } }]);
    await new Promise((r) => setTimeout(r, 650));
    await sink.close({ exitCode: 0, preempting: false });
    const rows = server.events(sink.runId as string);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.length).toBeLessThanOrEqual(8);
    for (const r of rows) {
      expect(r['_wandb']).toBe(true);
      for (const k of [
        'system.cpu',
        'system.memory_percent',
        'system.proc.memory.rssMB',
        'system.proc.memory.percent',
        'system.proc.memory.availableMB',
        'system.disk./.usagePercent',
        'system.disk./.usageGB',
      ]) {
        expect(typeof r[k], k).toBe('number');
      }
      expect(r['system.gpu.0.memoryAllocatedBytes']).toBe(12345);
      expect(r['system.proc.memory.rssMB']).toBeGreaterThan(1);
    }
    const gaps = rows
      .slice(1)
      .map((r, i) => (r['_timestamp'] as number) - (rows[i]?.['_timestamp'] as number));
    for (const g of gaps) expect(g).toBeGreaterThan(0.05);
    const local = readFileSync(join(runDir, 'wandb', 'events.jsonl'), 'utf8');
    await new Promise((r) => setTimeout(r, 300));
    expect(readFileSync(join(runDir, 'wandb', 'events.jsonl'), 'utf8')).toBe(local);
  });

  it('the sampling timer never keeps the process alive (a real process exits without close)', () => {
    const sinkTs = fileURLToPath(new URL('./wandbSink.ts', import.meta.url));
    const runDir = join(root, 'alive');
    const script = `
      const { WandbSink } = await import(${JSON.stringify(sinkTs)});
      const sink = new WandbSink({ env: { WANDB_MODE: 'offline', NETRC: '/nonexistent' }, config: { systemMetrics: { everySeconds: 0.05 } } });
      sink.start({ runDir: ${JSON.stringify(runDir)}, pipeline: 't', config: {}, startStep: 0, resumed: false });
      setTimeout(() => console.log('done'), 300);
    `;
    const t0 = Date.now();
    const r = evalTs(script, { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('done');
    expect(Date.now() - t0).toBeLessThan(25_000);
    const lines = readFileSync(join(runDir, 'wandb', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });
});
