import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FakeWandb, repoRoot, startFakeWandb, tsEvalArgs } from '@x/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NoticeRecord, RunInfo } from '../types.js';
import { syncOfflineRun } from './sync.js';
import { WandbSink } from './wandbSink.js';

const KEY = 'artifact-key-0123456789abcdef0123456789ab';
const KEY_B64 = Buffer.from(`api:${KEY}`).toString('base64');
let server: FakeWandb;
const root = mkdtempSync(join(tmpdir(), 'wandb-art-'));

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

function env(mode = 'online'): Record<string, string> {
  return {
    WANDB_MODE: mode,
    WANDB_API_KEY: KEY,
    WANDB_BASE_URL: server.url,
    WANDB_PROJECT: 'art',
    NETRC: '/nonexistent',
  };
}

function sinkFor(runDir: string, config: Record<string, unknown>, mode = 'online') {
  const notices: NoticeRecord[] = [];
  const sink = new WandbSink({
    env: env(mode),
    config: { ...FAST, ...config },
    onNotice: (n) => notices.push(n),
  });
  const info: RunInfo = { runDir, pipeline: 't', config: {}, startStep: 0, resumed: false };
  sink.start(info);
  return { sink, notices };
}

/** A checkpoint directory like @x/checkpoint writes (contents vary with `seed`). */
function checkpoint(dir: string, step: number, seed = step): string {
  const d = join(dir, 'checkpoints', `step-${String(step).padStart(8, '0')}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'state.safetensors'), Buffer.alloc(4096 + seed, seed & 0xff));
  writeFileSync(join(d, 'manifest.json'), JSON.stringify({ step: seed }));
  return d;
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

const best = { metric: 'val/loss', mode: 'min' as const };

describe('checkpoints as W&B model artifacts', () => {
  it('the new keys are validated at the boundary, naming the key', () => {
    expect(() => new WandbSink({ env: env(), config: { logCheckpoints: 'sometimes' } })).toThrow(
      /logging\.wandb: logCheckpoints: expected one of/,
    );
    expect(
      () => new WandbSink({ env: env(), config: { systemMetrics: { everySeconds: 0 } } }),
    ).toThrow(/logging\.wandb: systemMetrics/);
    expect(() => new WandbSink({ env: env(), config: { resume: 'maybe' } })).toThrow(
      /logging\.wandb: resume/,
    );
  });

  it('one version per checkpoint; latest moves to the newest, best to the best; each file PUT once, without the key', async () => {
    const runDir = join(root, 'all');
    const { sink } = sinkFor(runDir, { logCheckpoints: 'all' });
    const losses = [0.9, 0.4, 0.6];
    for (const [i, loss] of losses.entries()) {
      const step = (i + 1) * 10;
      sink.logCheckpoint({
        step,
        dir: checkpoint(runDir, step),
        metrics: { 'val/loss': loss },
        best,
      });
    }
    await sink.close({ exitCode: 0, preempting: false });
    const name = `model-${sink.runId as string}`;
    const store = server.artifacts;
    const versions = store.versions(name);
    expect(versions.map((v) => (v.metadata as { step: number }).step)).toEqual([10, 20, 30]);
    expect(versions.every((v) => v.type === 'model' && v.commits === 1)).toBe(true);
    expect(versions.every((v) => v.runName === sink.runId)).toBe(true);
    expect((store.alias(name, 'latest')?.metadata as { step: number }).step).toBe(30);
    expect((store.alias(name, 'best')?.metadata as { step: number }).step).toBe(20);
    expect(Object.keys(versions[0]?.manifest?.contents ?? {}).sort()).toEqual([
      'manifest.json',
      'state.safetensors',
    ]);
    const files = store.puts.filter((p) => p.kind === 'file');
    expect(files).toHaveLength(6);
    expect([...store.putCounts().values()].every((n) => n === 1)).toBe(true);
    // The key never reaches the storage origin, nor any file of the run directory.
    for (const r of server.requests.filter((x) => x.server === 'storage')) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.path).not.toContain(KEY);
    }
    for (const f of allFiles(runDir)) {
      const text = readFileSync(f).toString('latin1');
      expect(text.includes(KEY) || text.includes(KEY_B64), f).toBe(false);
    }
    // Staging links are removed once committed.
    expect(readdirSync(join(runDir, 'wandb', 'artifacts', 'staging'))).toEqual([]);
    expect(sink.stats().artifactsCommitted).toBe(3);
  });

  it('same digest ⇒ no new version and no upload; `best` mode logs only new bests', async () => {
    const runDir = join(root, 'best');
    const { sink } = sinkFor(runDir, { logCheckpoints: 'best' });
    const putsBefore = server.artifacts.puts.length;
    sink.logCheckpoint({ step: 1, dir: checkpoint(runDir, 1), metrics: { 'val/loss': 0.5 }, best });
    sink.logCheckpoint({ step: 2, dir: checkpoint(runDir, 2), metrics: { 'val/loss': 0.7 }, best });
    // Step 3 holds the same bytes as step 1 (same digest): the server's version is reused.
    sink.logCheckpoint({
      step: 3,
      dir: checkpoint(runDir, 3, 1),
      metrics: { 'val/loss': 0.5 },
      best,
    });
    await sink.close({ exitCode: 0, preempting: false });
    const name = `model-${sink.runId as string}`;
    const versions = server.artifacts.versions(name);
    expect(versions).toHaveLength(1);
    expect(versions[0]?.creates).toBe(2);
    expect(server.artifacts.puts.length - putsBefore).toBe(3); // 2 files + 1 manifest, once
    expect(server.artifacts.alias(name, 'best')?.id).toBe(versions[0]?.id);
  });

  it('`last` uploads only the newest and the best checkpoint, at the end', async () => {
    const runDir = join(root, 'last');
    const { sink } = sinkFor(runDir, { logCheckpoints: 'last' });
    const losses = [0.3, 0.8, 0.9, 0.95];
    for (const [i, loss] of losses.entries()) {
      sink.logCheckpoint({
        step: i + 1,
        dir: checkpoint(runDir, i + 1, 100 + i),
        metrics: { 'val/loss': loss },
        best,
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    const name = `model-${sink.runId as string}`;
    expect(server.artifacts.versions(name)).toHaveLength(0);
    await sink.close({ exitCode: 0, preempting: false });
    const steps = server.artifacts.versions(name).map((v) => (v.metadata as { step: number }).step);
    expect(steps).toEqual([1, 4]);
    expect((server.artifacts.alias(name, 'best')?.metadata as { step: number }).step).toBe(1);
    expect((server.artifacts.alias(name, 'latest')?.metadata as { step: number }).step).toBe(4);
  });

  it('survives a failed upload and a commit whose answer is lost (committed once)', async () => {
    const runDir = join(root, 'faults');
    server.inject({ match: 'upload', kind: 'status', status: 503, after: 1 });
    server.inject({ match: 'graphql', operation: 'commitArtifact(', kind: 'dropAfter' });
    const { sink } = sinkFor(runDir, { logCheckpoints: 'all' });
    sink.logCheckpoint({ step: 5, dir: checkpoint(runDir, 5, 55) });
    sink.logCheckpoint({ step: 6, dir: checkpoint(runDir, 6, 66) });
    await sink.close({ exitCode: 0, preempting: false });
    const versions = server.artifacts.versions(`model-${sink.runId as string}`);
    expect(versions).toHaveLength(2);
    expect(versions.map((v) => v.commits)).toEqual([1, 1]);
    expect(server.requests.some((r) => r.fault === 'dropAfter')).toBe(true);
    expect(server.requests.some((r) => r.server === 'storage' && r.fault === 'status')).toBe(true);
    expect([...server.artifacts.putCounts().values()].every((n) => n === 1)).toBe(true);
  });

  it('offline: staged and recorded; `sync` uploads them once, a second sync nothing', async () => {
    const runDir = join(root, 'offline');
    const { sink } = sinkFor(runDir, { logCheckpoints: 'all' }, 'offline');
    sink.logCheckpoint({ step: 1, dir: checkpoint(runDir, 1, 201) });
    sink.logCheckpoint({ step: 2, dir: checkpoint(runDir, 2, 202) });
    await sink.close({ exitCode: 0, preempting: false });
    const spool = JSON.parse(readFileSync(join(runDir, 'wandb', 'artifacts.json'), 'utf8')) as {
      versions: { state: string }[];
    };
    expect(spool.versions.map((v) => v.state)).toEqual(['queued', 'queued']);
    const e = env();
    const res = await syncOfflineRun(runDir, { env: e });
    expect(res.artifactsCommitted).toBe(2);
    expect(res.artifactsLeft).toBe(0);
    const name = `model-${sink.runId as string}`;
    expect(server.artifacts.versions(name)).toHaveLength(2);
    const puts = server.artifacts.puts.length;
    const again = await syncOfflineRun(runDir, { env: e });
    expect(again.artifactsCommitted).toBe(2);
    expect(server.artifacts.puts.length).toBe(puts);
  });

  it('kill -9 during uploads, then `sync`: every version committed once, every file stored by one PUT', async () => {
    const runDir = join(root, 'killed');
    const dirs = [1, 2, 3].map((i) => checkpoint(runDir, i, 300 + i));
    server.inject({ match: 'upload', kind: 'slow', delayMs: 500, times: 4 });
    const sinkTs = fileURLToPath(new URL('./wandbSink.ts', import.meta.url));
    const script = `
      const { WandbSink } = await import(${JSON.stringify(sinkTs)});
      const sink = new WandbSink({ env: ${JSON.stringify(env())}, config: ${JSON.stringify({ ...FAST, logCheckpoints: 'all' })} });
      sink.start({ runDir: ${JSON.stringify(runDir)}, pipeline: 't', config: {}, startStep: 0, resumed: false });
      for (const [i, dir] of ${JSON.stringify(dirs)}.entries()) sink.logCheckpoint({ step: i + 1, dir });
      console.log('logged ' + sink.runId);
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, tsEvalArgs(script), {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<NodeJS.Signals | null>((r) =>
      child.on('close', (_c, sig) => r(sig)),
    );
    const deadline = Date.now() + 60_000;
    const before = server.artifacts.puts.length;
    while (server.artifacts.puts.length === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await closed).toBe('SIGKILL');
    const runId = /logged (\w+)/.exec(out)?.[1] ?? '';
    const name = `model-${runId}`;
    expect(server.artifacts.versions(name).length).toBeLessThan(3);
    await new Promise((r) => setTimeout(r, 600)); // an in-flight PUT the killed process never saw answered
    const res = await syncOfflineRun(runDir, { env: env() });
    expect(res.artifactsCommitted).toBe(3);
    const versions = server.artifacts.versions(name);
    expect(versions.map((v) => v.commits)).toEqual([1, 1, 1]);
    const keys = new Set(
      versions.flatMap((v) =>
        Object.entries(v.manifest?.contents ?? {}).map(([n, e]) => `${e.digest}/${n}`),
      ),
    );
    const counts = server.artifacts.putCounts();
    for (const k of keys) expect(counts.get(k), k).toBe(1);
    expect((server.artifacts.alias(name, 'latest')?.metadata as { step: number }).step).toBe(3);
  });
});
