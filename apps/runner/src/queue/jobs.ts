import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One operator shard: `operators generate <args> --out <file>`, written atomically. */
export interface ShardJob {
  kind: 'shard';
  file: string;
  /** `operators generate` flags without `--out`. */
  args: string[];
}

/** The final step of a dataset: `operators merge <file> <parts...>`, written atomically. */
export interface MergeJob {
  kind: 'merge';
  file: string;
  parts: string[];
}

/** One training run of a sweep, in an ordinary run directory (resumed when it has a checkpoint). */
export interface TrainJob {
  kind: 'train';
  pipeline: string;
  runDir: string;
  /** Flags for a fresh run (without `--out`). */
  args: string[];
  /** Flags a resumed run may change (`--steps`, `--save-every`, `--backend`, ...). */
  resumeArgs: string[];
  /** Total steps, when given: a run whose newest checkpoint reached it is already done. */
  steps?: number;
}

/** What a queued job does. */
export type JobData = ShardJob | MergeJob | TrainJob;

/** The process running a job, recorded with the job's progress so a retry can recognise it. */
export interface Holder {
  host: string;
  pid: number;
}

/** How a job process ended. */
export interface JobOutcome {
  /** Exit code of the job process; 0 also when the result already existed (`skipped`). */
  code: number;
  skipped: boolean;
  /** Last lines of the job process's stderr. */
  stderr: string;
  /** The result written (shard/merged file or run directory). */
  result: string;
  /** `--resume` was used. */
  resumed: boolean;
  /** Wall time of the job process (0 when skipped). */
  seconds: number;
}

/** Hooks the worker gives a running job. */
export interface JobHooks {
  onStart(holder: Holder): void;
  onProgress(done: number, total: number): void;
  /** Aborted when the worker hands the job back: a training job is sent SIGTERM (checkpoint, exit). */
  handBack: AbortSignal;
  /** The process that ran this job's previous attempt, if any. */
  previous?: Holder;
}

/** A retryable condition (the job is tried again later), as opposed to bad input. */
export class RetryLater extends Error {}

const here = dirname(fileURLToPath(import.meta.url));
const guard = pathToFileURL(
  join(here, `orphanGuard${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`),
).href;
let seq = 0;

/** Newest complete checkpoint step (its manifest is written) in a run directory, or undefined. */
export function newestCheckpoint(runDir: string): number | undefined {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir)
    .filter((d) => /^step-\d{8}$/.test(d) && existsSync(join(dir, d, 'manifest.json')))
    .map((d) => Number(d.slice(5)));
  return steps.length === 0 ? undefined : Math.max(...steps);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Checks a run directory's `.lock` before a training job starts. A live holder on this host, or a
 * holder elsewhere that is not this job's previous attempt, means another process may still write
 * the run: try later. A holder elsewhere that *is* the previous attempt lost its queue lock (its
 * worker stopped renewing it), so its lock is stale and removed.
 */
function checkRunLock(runDir: string, previous: Holder | undefined): void {
  const path = join(runDir, '.lock');
  if (!existsSync(path)) return;
  let h: Partial<Holder>;
  try {
    h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
  } catch {
    return;
  }
  if (typeof h.pid !== 'number' || typeof h.host !== 'string') return;
  if (h.host === hostname()) {
    if (alive(h.pid))
      throw new RetryLater(`${runDir} is in use by pid ${h.pid} on this host; trying later`);
    return;
  }
  if (previous !== undefined && previous.host === h.host && previous.pid === h.pid) {
    rmSync(path, { force: true });
    return;
  }
  throw new RetryLater(`${runDir} is locked by pid ${h.pid} on ${h.host}; trying later`);
}

function tmpBeside(file: string): string {
  seq += 1;
  return join(
    dirname(file),
    `.${basename(file, '.h5')}.${hostname()}-${process.pid}-${seq}.tmp.h5`,
  );
}

/**
 * Runs one job as a child process of the runner itself (the same Node, loader flags and entry
 * script as this process), so it is isolated and killable. Shard and merge results are written
 * to a temporary name and renamed into place on success; an existing result is kept (a retried or
 * duplicated job produces the same bytes anyway).
 */
export async function executeJob(data: JobData, hooks: JobHooks): Promise<JobOutcome> {
  if (data.kind === 'train') return executeTrain(data, hooks);
  if (existsSync(data.file))
    return { code: 0, skipped: true, stderr: '', result: data.file, resumed: false, seconds: 0 };
  const tmp = tmpBeside(data.file);
  const args =
    data.kind === 'shard'
      ? ['operators', 'generate', ...data.args, '--out', tmp, '--pictures', '0']
      : ['operators', 'merge', tmp, ...data.parts, '--quiet'];
  const r = await runChild(args, dirname(data.file), hooks, undefined);
  if (r.code === 0) renameSync(tmp, data.file);
  else rmSync(tmp, { force: true });
  return { ...r, skipped: false, result: data.file, resumed: false };
}

async function executeTrain(data: TrainJob, hooks: JobHooks): Promise<JobOutcome> {
  const newest = newestCheckpoint(data.runDir);
  if (newest !== undefined && data.steps !== undefined && newest >= data.steps)
    return { code: 0, skipped: true, stderr: '', result: data.runDir, resumed: false, seconds: 0 };
  checkRunLock(data.runDir, hooks.previous);
  const resumed = newest !== undefined;
  if (!resumed && existsSync(join(data.runDir, 'checkpoints')))
    rmSync(join(data.runDir, 'checkpoints'), { recursive: true, force: true });
  const args = resumed
    ? [data.pipeline, 'train', '--resume', data.runDir, ...data.resumeArgs, '--quiet']
    : [data.pipeline, 'train', ...data.args, '--out', data.runDir, '--quiet'];
  const r = await runChild(args, dirname(data.runDir), hooks, data);
  return { ...r, skipped: false, result: data.runDir, resumed };
}

function runChild(
  args: string[],
  cwd: string,
  hooks: JobHooks,
  train: TrainJob | undefined,
): Promise<{ code: number; stderr: string; seconds: number }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const entry = process.argv[1];
    if (entry === undefined) {
      fail(new Error('cannot start a job process: no entry script in process.argv'));
      return;
    }
    const child = spawn(
      process.execPath,
      [...process.execArgv, '--import', guard, entry, ...args],
      {
        // The worker's own directory: its loader flags (e.g. --import tsx) resolve from there.
        cwd: process.cwd(),
        env: { ...process.env, INIT_CWD: cwd, X_QUEUE_WORKER_PID: String(process.pid) },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      },
    );
    child.on('error', fail);
    if (child.pid !== undefined) hooks.onStart({ host: hostname(), pid: child.pid });
    let tail = '';
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /\] (\d+)\/(\d+)\s*$/.exec(line);
        if (m !== null) hooks.onProgress(Number(m[1]), Number(m[2]));
      }
      tail = (tail + d.toString()).slice(-4000);
    });
    const poll =
      train?.steps === undefined
        ? undefined
        : setInterval(() => {
            const step = newestCheckpoint(train.runDir);
            if (step !== undefined) hooks.onProgress(step, train.steps as number);
          }, 2000);
    const onHandBack = (): void => {
      if (train !== undefined && child.exitCode === null) child.kill('SIGTERM');
    };
    hooks.handBack.addEventListener('abort', onHandBack);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      hooks.handBack.removeEventListener('abort', onHandBack);
      done({
        code: code ?? (signal === 'SIGTERM' ? 143 : 137),
        stderr: tail.trim(),
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}
