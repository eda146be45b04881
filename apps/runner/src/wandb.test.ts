import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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

/** A tiny IRED run: a step takes ~0.1–0.3 s on the cpu backend. */
const tinyIred = [
  ...['--set', 'model.channels=4', '--set', 'model.blocks=1', '--set', 'model.kernel=3'],
  ...['--set', 'model.timeDim=8', '--set', 'model.fourierDim=8', '--set', 'train.batchSize=2'],
  ...['--set', 'diffusion.landscapes=3', '--set', 'diffusion.optSteps=2'],
  ...['--backend', 'cpu', '--quiet'],
];

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

describe('checkpoints as W&B model artifacts through the runner', () => {
  it('kill -9 mid-upload, then --resume: every checkpoint is one version, each file stored by one PUT, aliases on the newest and the best', async () => {
    const runDir = join(root, 'ckpt-kill');
    const e = { ...env(), WANDB_MODE: 'online', WANDB_PROJECT: 'ckpt' };
    // Slow storage: the kill lands while uploads are in flight (the server may still store one
    // whose answer the killed process never saw).
    server.inject({ match: 'upload', kind: 'slow', delayMs: 600, times: 6 });
    const child = spawnTs(
      join(runnerRoot, 'src', 'bin.ts'),
      [
        ...['ired', 'train', '--steps', '6', '--save-every', '1', '--out', runDir],
        ...['--keep-best', 'loss:min', '--set', 'logging.wandb.logCheckpoints=all'],
        ...tinyIred,
      ],
      { cwd: runnerRoot, env: { ...process.env, ...e } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const deadline = Date.now() + 120_000;
    while (server.artifacts.puts.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await closed, stderr).toBe(null);
    const run = await runRunner(
      ['ired', 'train', '--resume', runDir, '--backend', 'cpu', '--quiet'],
      e,
    );
    expect(run.code, run.stderr).toBe(0);
    const runId = (
      JSON.parse(readFileSync(join(runDir, 'wandb', 'run.json'), 'utf8')) as { runId: string }
    ).runId;
    const name = `model-${runId}`;
    const store = server.artifacts;
    const versions = store.versions(name);
    const steps = versions.map((v) => (v.metadata as { step: number }).step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(versions.map((v) => v.commits)).toEqual([1, 1, 1, 1, 1, 1]);
    const counts = [...store.putCounts().entries()].filter(([k]) => !k.startsWith('art-'));
    expect(counts.length).toBeGreaterThanOrEqual(6);
    for (const [key, count] of counts) expect(count, key).toBe(1);
    expect((store.alias(name, 'latest')?.metadata as { step: number }).step).toBe(6);
    const loss = (v: (typeof versions)[number]) =>
      (v.metadata as { metrics: { loss: number } }).metrics.loss;
    const bestLoss = Math.min(...versions.map(loss));
    const bestStep = Math.max(
      ...versions
        .filter((v) => loss(v) === bestLoss)
        .map((v) => (v.metadata as { step: number }).step),
    );
    expect((store.alias(name, 'best')?.metadata as { step: number }).step).toBe(bestStep);
    // The API key never reaches the storage origin nor the run directory.
    for (const r of server.requests.filter((x) => x.server === 'storage')) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.path).not.toContain(KEY);
    }
    const b64 = Buffer.from(`api:${KEY}`).toString('base64');
    for (const f of allFiles(runDir)) {
      const text = readFileSync(f).toString('latin1');
      expect(text.includes(KEY) || text.includes(b64), f).toBe(false);
    }
    // Nothing left for sync.
    const again = await runRunner(['wandb', 'sync', runDir], e);
    expect(again.code, again.stderr).toBe(0);
    expect(server.artifacts.versions(name)).toHaveLength(6);
  }, 240_000);
});

describe('WANDB_RESUME through the runner', () => {
  it('must for a run that does not exist, never for one that does: exit 2 with the reason, no stack', async () => {
    server.seedRun('exists01', { project: 'resume' });
    const cases = [
      { mode: 'must', id: 'missing01', text: "WANDB_RESUME=must but run missing01 doesn't exist" },
      { mode: 'never', id: 'exists01', text: 'WANDB_RESUME=never but run exists01 exists' },
    ];
    for (const c of cases) {
      const r = await runRunner(
        ['ired', 'train', '--steps', '1', '--out', join(root, `resume-${c.mode}`), ...tinyIred],
        {
          ...env(),
          WANDB_MODE: 'online',
          WANDB_PROJECT: 'resume',
          WANDB_RESUME: c.mode,
          WANDB_RUN_ID: c.id,
        },
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(c.text);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(server.runs.has('missing01')).toBe(false);
    expect(server.runs.get('exists01')?.upserts).toBe(0);
  }, 120_000);
});
