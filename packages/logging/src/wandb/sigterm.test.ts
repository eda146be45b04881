import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { syncOfflineRun } from './sync.js';
import { type FakeWandb, spawnTs, startFakeWandb } from '@x/test-utils';

const KEY = 'sigterm-child-key-0123456789abcdef01234567';
let server: FakeWandb;

beforeEach(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterEach(async () => {
  await server.close();
});

it('a real child process sends preempting on SIGTERM after delivering every row', async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'wandb-sigterm-'));
  const child = spawnTs(join(import.meta.dirname, 'fixtures', 'sigtermChild.ts'), [runDir], {
    env: {
      ...process.env,
      WANDB_MODE: 'online',
      WANDB_API_KEY: KEY,
      WANDB_BASE_URL: server.url,
      WANDB_PROJECT: 'child',
      NETRC: '/nonexistent',
    },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((ready, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) ready();
    });
    child.on('exit', () => fail(new Error(`child exited early: ${err}`)));
  });
  child.kill('SIGTERM');
  const code = await exited;
  expect(code, err).toBe(143);
  const final = Number(/final (\d+)/.exec(out)?.[1]);
  const runId = /ready (\w+)/.exec(out)?.[1] as string;
  const run = server.runs.get(runId)!;
  expect(run.preempting).toBeGreaterThan(0);
  expect(run.complete).toBe(false);
  expect(run.gaps).toEqual([]);
  expect(server.rows(runId).map((r) => r['x'])).toEqual(Array.from({ length: final }, (_, i) => i));
  const exit = JSON.parse(readFileSync(join(runDir, 'wandb', 'exit.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  expect(exit).toMatchObject({ exitCode: 143, preempting: true });
  for (const f of readdirSync(runDir, { recursive: true, encoding: 'utf8' })) {
    const p = join(runDir, f);
    if (statSync(p).isFile()) expect(readFileSync(p, 'utf8')).not.toContain(KEY);
  }
  expect(out + err).not.toContain(KEY);
});

it('a process that exits without close() leaves every row on disk, and sync uploads them (run still open)', async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'wandb-exit-'));
  const child = spawnTs(join(import.meta.dirname, 'fixtures', 'exitChild.ts'), [runDir], {
    env: {
      ...process.env,
      WANDB_MODE: 'offline',
      WANDB_PROJECT: 'exit',
    },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  const runId = out.trim();
  const res = await syncOfflineRun(runDir, {
    env: { WANDB_API_KEY: KEY, WANDB_BASE_URL: server.url, NETRC: '/nonexistent' },
  });
  expect(res.state).toBe('running');
  expect(server.rows(runId).map((r) => r['x'])).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect(server.runs.get(runId)!.complete).toBe(false);
});
