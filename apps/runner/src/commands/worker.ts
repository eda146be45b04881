import { hostname } from 'node:os';
import { XError } from '@x/core';
import type { Job } from 'bullmq';
import type { Command, CommandContext } from '../command.js';
import { executeJob, type Holder, type JobData } from '../queue/jobs.js';
import { queueTarget, redisFlags, redisFlagsHelp } from '../queue/redis.js';

function intFlag(ctx: CommandContext, name: string, min: number, fallback: number): number {
  const raw = ctx.values[name] as string | undefined;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new XError('INVALID_INPUT', `--${name}: expected an integer >= ${min}, got '${raw}'`);
  return n;
}

/** Job progress as stored in Redis: the process running it and how far it got. */
export interface JobProgress extends Holder {
  done: number;
  total: number;
}

function describe(job: Job<JobData>): string {
  const d = job.data;
  return `${job.name} ${job.id ?? '?'} (${d.kind === 'train' ? d.runDir : d.file}, attempt ${job.attemptsMade + 1})`;
}

export const workerCommand: Command = {
  path: ['worker'],
  summary: 'run queued jobs (operator shards, merges, sweep runs) on this machine until stopped',
  usage: '--redis <url> [--concurrency <k>] [--queue <name>] [--lock-duration <ms>]',
  help: `${redisFlagsHelp}
  --concurrency <k>        jobs at once, each in its own runner process (default 1)
  --lock-duration <ms>     a job whose worker stops renewing its lock this long is stalled and
                           retried elsewhere (default 30000; stall checks every half of it)
  --max-stalled <n>        times a job may stall before it fails (default 5)
  --exit-when-idle         stop once the queue has nothing waiting, delayed or running

Each job runs as a child process of the runner. Exit 2 (bad input) fails the job at once; other
failures are retried per the job's --attempts/--backoff. SIGTERM (or Ctrl-C) stops taking jobs and
lets running shard and merge jobs finish; running training jobs checkpoint, stop, and are handed
back to the queue, whose next worker resumes them. A second signal exits at once; the job
processes die with the worker and their jobs are retried once their locks expire.`,
  options: {
    ...redisFlags,
    concurrency: { type: 'string' },
    'lock-duration': { type: 'string' },
    'max-stalled': { type: 'string' },
    'exit-when-idle': { type: 'boolean' },
  },
  async run(ctx) {
    const concurrency = intFlag(ctx, 'concurrency', 1, 1);
    const lockDuration = intFlag(ctx, 'lock-duration', 200, 30_000);
    const maxStalled = intFlag(ctx, 'max-stalled', 0, 5);
    const target = await queueTarget(ctx);
    const { Worker, Queue, UnrecoverableError, DelayedError } = await import('bullmq');
    const handBack = new AbortController();
    const me = `${hostname()}:${process.pid}`;

    const processor = async (job: Job<JobData>, token?: string): Promise<unknown> => {
      const previous = job.progress as Partial<JobProgress> | number | undefined;
      let progress: JobProgress = { host: hostname(), pid: process.pid, done: 0, total: 0 };
      const update = (): void => void job.updateProgress({ ...progress }).catch(() => undefined);
      ctx.out.info(`worker ${me}: start ${describe(job)}`);
      const outcome = await executeJob(job.data, {
        onStart: (h) => {
          progress = { ...progress, ...h };
          ctx.out.info(`worker ${me}: job ${job.id ?? '?'} runs in pid ${h.pid}`);
          update();
        },
        onProgress: (done, total) => {
          progress = { ...progress, done, total };
          update();
        },
        handBack: handBack.signal,
        ...(typeof previous === 'object' &&
        typeof previous.host === 'string' &&
        typeof previous.pid === 'number'
          ? { previous: { host: previous.host, pid: previous.pid } }
          : {}),
      });
      if (outcome.code === 0) {
        ctx.out.info(
          `worker ${me}: done ${describe(job)}${outcome.skipped ? ' (already there)' : ''}${outcome.resumed ? ' (resumed)' : ''} (job process ${outcome.seconds.toFixed(3)} s)`,
        );
        return {
          result: outcome.result,
          host: hostname(),
          skipped: outcome.skipped,
          seconds: outcome.seconds,
        };
      }
      if (handBack.signal.aborted && job.data.kind === 'train' && token !== undefined) {
        ctx.out.info(`worker ${me}: handing back ${describe(job)} (checkpointed, stopping)`);
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const why = `exit ${outcome.code}: ${outcome.stderr.split('\n').slice(-3).join(' | ')}`;
      ctx.out.warn(`worker ${me}: failed ${describe(job)}: ${why}`);
      if (outcome.code === 2) throw new UnrecoverableError(`bad input, not retried (${why})`);
      throw new Error(why);
    };

    const worker = new Worker<JobData>(target.name, processor, {
      connection: target.connection,
      concurrency,
      lockDuration,
      stalledInterval: Math.max(100, Math.floor(lockDuration / 2)),
      maxStalledCount: maxStalled,
      autorun: false,
    });
    worker.on('error', (err) => ctx.out.warn(`worker ${me}: ${err.message}`));
    const stop = async (): Promise<void> => {
      handBack.abort();
      await worker.close();
    };
    ctx.signal.addEventListener('abort', () => {
      ctx.out.info(
        `worker ${me}: stopping (running shard/merge jobs finish; training jobs checkpoint and are handed back)`,
      );
      void stop();
    });
    let idle: NodeJS.Timeout | undefined;
    if (ctx.values['exit-when-idle'] === true) {
      const queue = new Queue(target.name, { connection: target.connection });
      idle = setInterval(() => {
        void queue
          .getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children')
          .then(async (c) => {
            if (Object.values(c).every((n) => n === 0)) {
              clearInterval(idle);
              await queue.close();
              await stop();
            }
          })
          .catch(() => undefined);
      }, 1000);
    }
    ctx.out.info(`worker ${me}: queue ${target.name} on ${target.url}, concurrency ${concurrency}`);
    await worker.run();
    clearInterval(idle);
    ctx.out.line(`worker ${me}: stopped`);
    return 0;
  },
};
