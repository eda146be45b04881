import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../commands/index.js';
import { runInProcess, spawnRunner, tinyOpsConfig, tinyTimestepperArgs } from '../testkit.js';
import { newestCheckpoint } from './jobs.js';
import { freePort, redisMissing, startRedis, type TestRedis } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'runner-queue-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runInProcess(commands, args, dir);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Proc {
  child: ChildProcess;
  stderr: string;
  exited: Promise<number | null>;
}

function worker(url: string): Proc {
  const child = spawnRunner(
    ['worker', '--redis', url, '--lock-duration', '2000', '--exit-when-idle'],
    { cwd: dir },
  );
  const p: Proc = {
    child,
    stderr: '',
    exited: new Promise((done) => child.on('close', (code) => done(code))),
  };
  child.stderr?.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

/** Waits for a worker's first job process; returns the job id and the pid it runs in. */
async function firstJob(p: Proc): Promise<{ id: string; pid: number }> {
  const re = /job (\S+) runs in pid (\d+)/;
  await until('a job to start', () => re.test(p.stderr), 120_000);
  const m = re.exec(p.stderr) as RegExpExecArray;
  return { id: m[1] as string, pid: Number(m[2]) };
}

const lastJson = (text: string): Record<string, unknown> =>
  JSON.parse(text.trim().split('\n').pop() as string) as Record<string, unknown>;

describe('queue commands without Redis', () => {
  it('an unreachable Redis is exit 2 naming the URL, within the connect timeout', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [
      ['queue', 'status', '--redis', url, '--connect-timeout', '1500'],
      ['worker', '--redis', url, '--connect-timeout', '1500'],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`cannot reach Redis at ${url}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const bad = await cli(['queue', 'status', '--redis', 'http://x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--redis http:\/\/x: expected a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('rejects a bad sweep before touching Redis', async () => {
    const r = await cli(['queue', 'sweep', 'nope', 'train', '--dir', dir, '--redis', 'redis://x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pipeline one of ired, timestepper, got 'nope train'/);
    const g = await cli(['sweep', 'timestepper', 'train', '--grid', 'a=', '--dir', dir, '--list']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--grid 'a=': expected <dotted.key>=<v1>,<v2>/);
  });
});

const missing = redisMissing();
const hasH5py =
  spawnSync('/usr/bin/python3', ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0;
if (missing !== undefined) console.warn(`skipping the Redis queue tests: ${missing}`);

describe.skipIf(missing !== undefined)('queue on a real Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('three workers, one SIGKILLed mid-job: the merged file equals one process and replays bit-exactly', async () => {
    const yaml = join(dir, 'ops.yaml');
    writeFileSync(yaml, JSON.stringify(tinyOpsConfig()));
    const N = 4;
    const ds = join(dir, 'dataset');
    const common = ['--config', yaml, '--backend', 'cpu'];
    const enq = await cli([
      'queue',
      'operators',
      'generate',
      '--n',
      String(N),
      '--chunk',
      '1',
      '--dir',
      ds,
      '--redis',
      redis.url,
      '--backoff',
      '100',
      ...common,
    ]);
    expect(enq.code, enq.stderr).toBe(0);
    expect(enq.stdout).toMatch(/enqueued 4 shard jobs/);

    const workers = [worker(redis.url), worker(redis.url), worker(redis.url)];
    const victim = workers[0] as Proc;
    const job = await firstJob(victim);
    victim.child.kill('SIGKILL');
    // The job process dies with its worker (it notices it was re-parented), leaving no orphan.
    await until('the killed worker’s job process to exit', () => !alive(job.pid), 30_000);
    const codes = await Promise.all(workers.slice(1).map((w) => w.exited));
    const logs = workers.map((w) => w.stderr).join('\n');
    expect(codes, logs).toEqual([0, 0]);
    // Stalled-job detection gave the killed worker's job to another worker.
    const survivors = workers
      .slice(1)
      .map((w) => w.stderr)
      .join('\n');
    expect(survivors).toContain(`start shard ${job.id} `);
    expect(survivors).toMatch(/done merge merge-/);
    const merged = join(ds, 'dataset.h5');
    expect(existsSync(merged)).toBe(true);

    const status = await cli(['queue', 'status', '--redis', redis.url, '--dir', ds]);
    expect(status.code, status.stderr).toBe(0);
    expect(lastJson(status.stdout)).toEqual({
      done: N + 1,
      running: 0,
      waiting: 0,
      retrying: 0,
      failed: 0,
      blocked: 0,
    });

    const single = join(dir, 'single.h5');
    const g = await cli([
      'operators',
      'generate',
      '--n',
      String(N),
      '--out',
      single,
      '--pictures',
      '0',
      '--quiet',
      ...common,
    ]);
    expect(g.code, g.stderr).toBe(0);
    if (hasH5py) {
      const py = `
import h5py, json, sys, numpy as np
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
other = []
b.visititems(lambda n, o: other.append(n) if isinstance(o, h5py.Dataset) else None)
diff = [n for n in names if not np.array_equal(a[n][()], b[n][()])]
print(json.dumps({"datasets": sorted(names), "same_names": sorted(names) == sorted(other), "diff": diff, "n": int(a["operators/index"].shape[0])}))
`;
      const r = JSON.parse(
        execFileSync('/usr/bin/python3', ['-c', py, merged, single], { encoding: 'utf8' }),
      ) as { datasets: string[]; same_names: boolean; diff: string[]; n: number };
      expect(r.datasets).toContain('replay/trajectory_sha256');
      expect(r.datasets).toContain('features/summary/aggregated');
      expect(r).toMatchObject({ same_names: true, diff: [], n: N });
    } else console.warn('skipping the h5py comparison: /usr/bin/python3 has no h5py/numpy');

    const v = await cli(['operators', 'replay', merged, '--verify', '--quiet']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain(`verified ${N} operators: all bit-exact`);
  }, 600_000);

  it('a 2×2 sweep ends in four run directories equal to direct runs; killed and SIGTERMed workers’ runs resume', async () => {
    const sw = join(dir, 'sweep');
    const STEPS = 6;
    const at = tinyTimestepperArgs.indexOf('model.hidden=[8]');
    expect(at).toBeGreaterThan(0);
    const tiny = tinyTimestepperArgs.filter((_, i) => i !== at && i !== at - 1);
    const train = ['--problem', 'kepler', ...tiny, '--steps', String(STEPS), '--save-every', '1'];
    const enq = await cli([
      'queue',
      'sweep',
      'timestepper',
      'train',
      '--grid',
      'model.hidden=[8],[6]',
      '--seeds',
      '2',
      '--dir',
      sw,
      '--redis',
      redis.url,
      '--backoff',
      '100',
      '--',
      ...train,
      '--backend',
      'cpu',
    ]);
    expect(enq.code, enq.stderr).toBe(0);
    const runDirs = [...enq.stdout.matchAll(/^point (\d+): (.+)$/gm)].map((m) => m[2] as string);
    expect(runDirs.map((d) => d.slice(sw.length + 1))).toEqual([
      'timestepper-model.hidden=_8_-seed0',
      'timestepper-model.hidden=_8_-seed1',
      'timestepper-model.hidden=_6_-seed0',
      'timestepper-model.hidden=_6_-seed1',
    ]);

    // A job that fails for bad input (exit 2) fails at once instead of using up its attempts.
    const bad = join(dir, 'bad-sweep');
    const enqBad = await cli([
      'queue',
      'sweep',
      'timestepper',
      'train',
      '--dir',
      bad,
      '--redis',
      redis.url,
      '--attempts',
      '5',
      '--',
      '--problem',
      'nope',
    ]);
    expect(enqBad.code, enqBad.stderr).toBe(0);

    const first = worker(redis.url);
    const second = worker(redis.url);
    const job = await firstJob(first);
    const victimRun = runDirs[Number(job.id.split('-').pop())] as string;
    await until(
      'a checkpoint in the victim’s run',
      () => newestCheckpoint(victimRun) !== undefined,
      180_000,
    );
    first.child.kill('SIGKILL');
    await until('the killed worker’s training process to exit', () => !alive(job.pid), 30_000);
    const atDeath = newestCheckpoint(victimRun) as number;

    // SIGTERM to the other worker mid-run: the run checkpoints, stops, and the job is handed back.
    const tag = job.id.replace(/-\d+$/, '');
    let handed = '';
    await until(
      'a checkpointed sweep run on the second worker',
      () => {
        const all = [...second.stderr.matchAll(/job (\S+) runs in pid \d+/g)];
        const id = all.at(-1)?.[1] ?? '';
        const run = runDirs[Number(id.split('-').pop())];
        handed = id;
        return (
          id.startsWith(`${tag}-`) &&
          !second.stderr.includes(`done train ${id} `) &&
          run !== undefined &&
          newestCheckpoint(run) !== undefined
        );
      },
      180_000,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr).toBe(143);
    // A SIGTERM that lands after the run's last checkpoint hands back a finished run: the next
    // worker finds it complete instead of resuming it.
    const atTerm = newestCheckpoint(runDirs[Number(handed.split('-').pop())] as string) as number;

    const third = worker(redis.url);
    expect(await third.exited, third.stderr).toBe(0);
    const logs = [first, second, third].map((w) => w.stderr).join('\n');
    // Retried elsewhere: resumed from the checkpoint the killed run left (unless it had finished).
    if (atDeath < STEPS) expect(logs).toMatch(new RegExp(`done train ${job.id} .*\\(resumed\\)`));
    if (second.stderr.includes(`handing back train ${handed} `))
      expect(third.stderr).toMatch(
        new RegExp(`done train ${handed} .*\\(${atTerm < STEPS ? 'resumed' : 'already there'}\\)`),
      );
    else expect(second.stderr).toContain(`done train ${handed} `);

    const failed = await cli(['queue', 'status', '--redis', redis.url, '--dir', bad]);
    expect(failed.stdout).toMatch(
      /failed +train-\S+ .* after 1 tries: bad input, not retried \(exit 2/,
    );
    expect(lastJson(failed.stdout)).toMatchObject({ failed: 1, done: 0 });

    const points: [string, number][] = [
      ['[8]', 0],
      ['[8]', 1],
      ['[6]', 0],
      ['[6]', 1],
    ];
    for (const [i, [hidden, seed]] of points.entries()) {
      const runDir = runDirs[i] as string;
      expect(newestCheckpoint(runDir), runDir).toBe(STEPS);
      const direct = join(dir, `direct-${i}`);
      const d = await cli([
        'timestepper',
        'train',
        ...train,
        '--set',
        `model.hidden=${hidden}`,
        '--seed',
        String(seed),
        '--backend',
        'cpu',
        '--quiet',
        '--out',
        direct,
      ]);
      expect(d.code, d.stderr).toBe(0);
      const digest = async (p: string): Promise<string> => {
        const r = await cli(['ckpt', 'digest', p]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim().split('\n').pop() as string;
      };
      expect(await digest(runDir), runDir).toBe(await digest(direct));
    }
  }, 600_000);
});
