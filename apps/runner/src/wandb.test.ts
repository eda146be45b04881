import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WandbSink } from '@x/logging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeWandb, spawnTs, startFakeWandb } from '@x/test-utils';
import { runCli, type CliIO } from './cli.js';
import { wandbCommands } from './commands/wandb.js';

const KEY = 'runner-sync-key-0123456789abcdef0123456789';
let server: FakeWandb;
const root = mkdtempSync(join(tmpdir(), 'x-runner-wandb-'));

beforeAll(async () => {
  server = await startFakeWandb({ apiKey: KEY });
});
afterAll(async () => {
  await server.close();
});

async function offlineRun(name: string, rows: number): Promise<{ runDir: string; runId: string }> {
  const runDir = join(root, name);
  const sink = new WandbSink({
    env: { WANDB_MODE: 'offline', WANDB_BASE_URL: server.url, WANDB_PROJECT: 'runner' },
  });
  sink.start({ runDir, pipeline: 'test', config: { a: 1 }, startStep: 0, resumed: false });
  for (let s = 0; s < rows; s++)
    sink.writeRows([{ step: s, time: 1_700_000_000 + s, values: { loss: 1 / (s + 1) } }]);
  await sink.close({ exitCode: 0, preempting: false });
  return { runDir, runId: sink.runId as string };
}

const runnerRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The real CLI in a child process, without blocking this process (it serves the fake W&B). */
function runRunner(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnTs(join(runnerRoot, 'src', 'bin.ts'), args, {
    cwd: runnerRoot,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
}

const env = () => ({ WANDB_API_KEY: KEY, WANDB_BASE_URL: server.url, NETRC: '/nonexistent' });

describe('runner wandb sync', () => {
  it('uploads an offline run once, as a real process, and a second sync sends nothing', async () => {
    const { runDir, runId } = await offlineRun('a', 50);
    const r = await runRunner(['wandb', 'sync', runDir], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`/${runId}: 50 history rows on the server (complete)`);
    expect(r.stdout + r.stderr).not.toContain(KEY);
    const run = server.runs.get(runId)!;
    expect(run.complete).toBe(true);
    expect(server.rows(runId).map((x) => x['_step'])).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    let err = '';
    const io: CliIO = { cwd: root, stdout: () => undefined, stderr: (t) => void (err += t) };
    for (const [k, v] of Object.entries(env())) process.env[k] = v;
    expect(await runCli(wandbCommands, ['wandb', 'sync', 'a'], io)).toBe(0);
    expect(err).toContain('sent 0 history rows');
    expect(server.runs.get(runId)!.history).toHaveLength(50);
  });

  it('stops within one retry when SIGTERM arrives while the server is down (exit 143, progress kept)', async () => {
    const { runDir } = await offlineRun('down', 20);
    server.down = true;
    try {
      const child = spawnTs(join(runnerRoot, 'src', 'bin.ts'), ['wandb', 'sync', runDir], {
        cwd: runnerRoot,
        env: { ...process.env, ...env() },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      const before = server.requests.length;
      const deadline = Date.now() + 60_000;
      while (server.requests.length === before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await closed;
      const latency = Date.now() - t0;
      expect(code, stderr).toBe(143);
      expect(latency).toBeLessThan(5000);
      expect(stderr).toContain('sync interrupted');
      expect(stderr).toContain(`runner wandb sync ${runDir}`);
    } finally {
      server.down = false;
    }
  });

  it('a gap in the spool is an error naming the missing history lines, not "all sent"', async () => {
    const { runDir, runId } = await offlineRun('gap', 10);
    // The spool starts at line 4 (lines 0..3 were lost with the files): nobody has them.
    const runJson = join(runDir, 'wandb', 'run.json');
    const rec = JSON.parse(readFileSync(runJson, 'utf8')) as { historyBase: number };
    writeFileSync(runJson, JSON.stringify({ ...rec, historyBase: 4 }));
    let err = '';
    const io: CliIO = { cwd: root, stdout: () => undefined, stderr: (t) => void (err += t) };
    for (const [k, v] of Object.entries(env())) process.env[k] = v;
    const code = await runCli(wandbCommands, ['wandb', 'sync', runDir], io);
    expect(code, err).toBe(1);
    expect(err).toContain('history lines 0..3 (4 rows, the steps before step 0)');
    expect(err).toContain('10 rows after the gap were sent');
    expect(err).not.toContain('history rows on the server (complete)');
    expect(server.runs.get(runId)!.history.length).toBeGreaterThan(0);
  });

  it('exits 2 naming the directory when there is no W&B run in it', async () => {
    let err = '';
    const io: CliIO = { cwd: root, stdout: () => undefined, stderr: (t) => void (err += t) };
    const code = await runCli(wandbCommands, ['wandb', 'sync', 'nowhere'], io);
    expect(code).toBe(2);
    expect(err).toContain(join(root, 'nowhere'));
  });
});
