import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { XError, applyOverrides, deepMerge, loadYamlFile } from '@x/core';
import type { Job } from 'bullmq';
import type { Command, CommandContext } from '../command.js';
import { executeJob, type JobData, type MergeJob, type ShardJob } from '../queue/jobs.js';
import { queueTarget, redisFlags, redisFlagsHelp, type QueueTarget } from '../queue/redis.js';
import { parseGrid, sweepPoints, trainJob, type SweepPoint } from '../queue/sweep.js';
import { arrayTask } from '../shardAuto.js';
import type { JobProgress } from './worker.js';

const PIPELINES = ['ired', 'timestepper'];

function str(ctx: CommandContext, name: string): string | undefined {
  return ctx.values[name] as string | undefined;
}

function intFlag(ctx: CommandContext, name: string, min: number, fallback?: number): number {
  const raw = str(ctx, name);
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw new XError('INVALID_INPUT', `--${name} is required`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new XError('INVALID_INPUT', `--${name}: expected an integer >= ${min}, got '${raw}'`);
  return n;
}

function dirFlag(ctx: CommandContext): string {
  const d = str(ctx, 'dir');
  if (d === undefined)
    throw new XError('INVALID_INPUT', '--dir <shared-dir> is required (storage every worker sees)');
  return resolve(ctx.cwd, d);
}

/** A short tag naming a shared directory in job ids (the same directory gives the same ids). */
function dirTag(dir: string): string {
  return createHash('sha256').update(dir).digest('hex').slice(0, 10);
}

const retryFlags = {
  attempts: { type: 'string' },
  backoff: { type: 'string' },
} as const;
const retryHelp = `  --attempts <n>           tries per job before it fails (default 3; exit 2 = bad input is never retried)
  --backoff <ms>           exponential backoff base between tries (default 2000)`;

function jobOptions(ctx: CommandContext): {
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
} {
  return {
    attempts: intFlag(ctx, 'attempts', 1, 3),
    backoff: { type: 'exponential', delay: intFlag(ctx, 'backoff', 0, 2000) },
  };
}

/** What `queue operators generate` leaves in the shared directory for `queue merge`/`status`. */
interface DatasetManifest {
  kind: 'operators';
  n: number;
  file: string;
  parts: string[];
  queue: string;
}

function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export const queueOperatorsGenerateCommand: Command = {
  path: ['queue', 'operators', 'generate'],
  summary: 'enqueue an operator dataset: one job per index range, then a merge job',
  usage:
    '--n <N> --chunk <C> --dir <shared-dir> --redis <url> [--config <file.yaml>] [--set k=v] [--seed <n>] [--backend <b>]',
  help: `  --n <N>                  operators in the whole dataset
  --chunk <C>              operators per job (about; ceil(N/C) shard jobs of contiguous ranges)
  --dir <shared-dir>       shared storage: shards/ part files, dataset.h5 when merged
  --config, --set, --seed  dataset config, as for 'operators generate' (validated here, copied to --dir)
  --backend <b>            pin the backend on every worker (recommended: shards of a dataset must match)
  --batch-size <b>         operators per written batch
${retryHelp}
${redisFlagsHelp}`,
  options: {
    ...redisFlags,
    ...retryFlags,
    n: { type: 'string' },
    chunk: { type: 'string' },
    dir: { type: 'string' },
    config: { type: 'string' },
    set: { type: 'string', multiple: true },
    seed: { type: 'string' },
    backend: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run(ctx) {
    const n = intFlag(ctx, 'n', 1);
    const chunk = intFlag(ctx, 'chunk', 1);
    const dir = dirFlag(ctx);
    const opts = jobOptions(ctx);
    const sets = (ctx.values['set'] as string[] | undefined) ?? [];
    const { resolveDatasetConfig } = await import('@x/operator-replay');
    let raw: unknown = {};
    const cfg = str(ctx, 'config');
    if (cfg !== undefined) raw = deepMerge(raw, loadYamlFile(resolve(ctx.cwd, cfg)));
    raw = applyOverrides(raw, sets);
    if (str(ctx, 'seed') !== undefined) raw = deepMerge(raw, { rootSeed: intFlag(ctx, 'seed', 0) });
    const config = resolveDatasetConfig(raw, cfg ?? (sets.length > 0 ? '--set' : 'defaults'));
    const target = await queueTarget(ctx);
    mkdirSync(join(dir, 'shards'), { recursive: true });
    const base = ['--n', String(n)];
    if (cfg !== undefined) {
      const copy = join(dir, `dataset-config${extname(cfg) || '.yaml'}`);
      copyFileSync(resolve(ctx.cwd, cfg), copy);
      base.push('--config', copy);
    }
    for (const s of sets) base.push('--set', s);
    for (const f of ['seed', 'backend', 'batch-size'] as const) {
      const v = str(ctx, f);
      if (v !== undefined) base.push(`--${f}`, v);
    }
    const count = Math.ceil(n / chunk);
    const width = Math.max(5, String(count).length);
    const parts = Array.from({ length: count }, (_, i) =>
      join(dir, 'shards', `part-${String(i).padStart(width, '0')}-of-${count}.h5`),
    );
    const file = join(dir, 'dataset.h5');
    const tag = dirTag(dir);
    const manifest: DatasetManifest = { kind: 'operators', n, file, parts, queue: target.name };
    writeJson(join(dir, 'queue.json'), manifest);
    const { FlowProducer } = await import('bullmq');
    const flow = new FlowProducer({ connection: target.connection });
    try {
      await flow.add({
        name: 'merge',
        queueName: target.name,
        data: { kind: 'merge', file, parts } satisfies MergeJob,
        opts: { jobId: `merge-${tag}`, ...opts },
        children: parts.map((p, i) => ({
          name: 'shard',
          queueName: target.name,
          data: {
            kind: 'shard',
            file: p,
            args: [...base, '--shard', `${i}/${count}`],
          } satisfies ShardJob,
          opts: { jobId: `shard-${tag}-${i}`, failParentOnFailure: true, ...opts },
        })),
      });
    } finally {
      await flow.close();
    }
    ctx.out.line(
      `enqueued ${count} shard jobs of ~${chunk} operators (dataset ${config.datasetId}, ${n} operators) and a merge job on queue ${target.name} at ${target.url}`,
    );
    ctx.out.line(
      `result: ${file} (once every shard is done; 'runner queue status' shows progress)`,
    );
    return 0;
  },
};

const sweepFlags = {
  grid: { type: 'string', multiple: true },
  seeds: { type: 'string' },
  'seed-base': { type: 'string' },
  dir: { type: 'string' },
} as const;
const sweepHelp = `  --grid <key=v1,v2>       one axis of the grid: a config key (--set form) and its values (repeatable)
  --seeds <K>              K seeds per grid point: --seed-base .. --seed-base+K-1 (default 1 seed)
  --seed-base <s>          first seed (default 0)
  --dir <shared-dir>       one run directory per point: <pipeline>-<key=value>...-seed<s>
  -- <train flags>         passed to every run, e.g. -- --problem kepler --steps 400 --save-every 50`;

function sweepSpec(ctx: CommandContext): {
  pipeline: string;
  points: SweepPoint[];
  passthrough: string[];
  dir: string;
} {
  const [pipeline, verb, ...passthrough] = ctx.positionals;
  if (pipeline === undefined || !PIPELINES.includes(pipeline) || verb !== 'train')
    throw new XError(
      'INVALID_INPUT',
      `expected '<pipeline> train' with pipeline one of ${PIPELINES.join(', ')}, got '${[pipeline, verb].filter(Boolean).join(' ')}'`,
    );
  const axes = parseGrid((ctx.values['grid'] as string[] | undefined) ?? []);
  const k = intFlag(ctx, 'seeds', 1, 1);
  const base = intFlag(ctx, 'seed-base', 0, 0);
  const seeds = Array.from({ length: k }, (_, i) => base + i);
  const dir = dirFlag(ctx);
  const points = sweepPoints(pipeline, axes, seeds, dir);
  for (const p of points) trainJob(pipeline, p, passthrough);
  return { pipeline, points, passthrough, dir };
}

export const queueSweepCommand: Command = {
  path: ['queue', 'sweep'],
  summary:
    'enqueue one training run per grid point and seed (each an ordinary, resumable run directory)',
  usage:
    '<pipeline> train --grid <key=v1,v2>... [--seeds <K>] --dir <shared-dir> --redis <url> [-- <train flags>]',
  help: `${sweepHelp}
${retryHelp}
${redisFlagsHelp}`,
  options: { ...redisFlags, ...retryFlags, ...sweepFlags },
  positionals: { min: 2, max: 10_000 },
  async run(ctx) {
    const { pipeline, points, passthrough, dir } = sweepSpec(ctx);
    const opts = jobOptions(ctx);
    const target = await queueTarget(ctx);
    mkdirSync(dir, { recursive: true });
    writeJson(join(dir, 'sweep.json'), {
      kind: 'sweep',
      pipeline,
      passthrough,
      points: points.map((p) => ({ index: p.index, runDir: p.runDir, seed: p.seed, sets: p.sets })),
    });
    const { Queue } = await import('bullmq');
    const queue = new Queue<JobData>(target.name, { connection: target.connection });
    const tag = dirTag(dir);
    try {
      await queue.addBulk(
        points.map((p) => ({
          name: 'train',
          data: trainJob(pipeline, p, passthrough),
          opts: { jobId: `train-${tag}-${p.index}`, ...opts },
        })),
      );
    } finally {
      await queue.close();
    }
    for (const p of points) ctx.out.line(`point ${p.index}: ${p.runDir}`);
    ctx.out.line(
      `enqueued ${points.length} ${pipeline} training runs on queue ${target.name} at ${target.url}`,
    );
    return 0;
  },
};

export const sweepCommand: Command = {
  path: ['sweep'],
  summary: 'run one point of a training sweep here: for SLURM arrays and Kubernetes Indexed Jobs',
  usage:
    '<pipeline> train --grid <key=v1,v2>... [--seeds <K>] --dir <shared-dir> (--index <i|auto> | --list) [-- <train flags>]',
  help: `${sweepHelp}
  --index <i|auto>         the point to run; auto: SLURM_ARRAY_TASK_ID (of SLURM_ARRAY_TASK_COUNT) or
                           JOB_COMPLETION_INDEX (JOB_COMPLETIONS, if set, must equal the point count)
  --list                   print the points (index, run directory) and their count, run nothing

Same points, order and run directories as 'runner queue sweep'. A point whose run directory has a
checkpoint is resumed from it, so a requeued array task continues where it stopped.`,
  options: { ...sweepFlags, index: { type: 'string' }, list: { type: 'boolean' } },
  positionals: { min: 2, max: 10_000 },
  async run(ctx) {
    const { pipeline, points, passthrough } = sweepSpec(ctx);
    if (ctx.values['list'] === true) {
      for (const p of points) ctx.out.line(`point ${p.index}: ${p.runDir}`);
      ctx.out.line(`${points.length} points`);
      return 0;
    }
    const raw = str(ctx, 'index');
    if (raw === undefined)
      throw new XError('INVALID_INPUT', '--index <i|auto> (or --list) is required');
    let index: number;
    if (raw === 'auto') {
      const t = arrayTask('--index auto', points.length);
      index = t.index;
      ctx.out.info(`sweep point ${index} of ${points.length} (${t.source})`);
    } else {
      index = Number(raw);
      if (!Number.isSafeInteger(index) || index < 0 || index >= points.length)
        throw new XError(
          'INVALID_INPUT',
          `--index: expected 0..${points.length - 1} (the sweep has ${points.length} points), got '${raw}'`,
        );
    }
    const point = points[index] as SweepPoint;
    const job = trainJob(pipeline, point, passthrough);
    const r = await executeJob(job, {
      onStart: () => undefined,
      onProgress: () => undefined,
      handBack: ctx.signal,
    });
    if (r.code !== 0 && ctx.signal.aborted) {
      ctx.out.info(`point ${index}: stopped by a signal; run again to resume from its checkpoint`);
      return 0;
    }
    if (r.code !== 0)
      throw new XError(
        r.code === 2 ? 'INVALID_INPUT' : 'INTERNAL',
        `sweep point ${index} (${point.runDir}) exited ${r.code}: ${r.stderr.split('\n').slice(-3).join(' | ')}`,
      );
    ctx.out.line(
      `point ${index}: ${point.runDir}${r.skipped ? ' (already finished)' : r.resumed ? ' (resumed)' : ''}`,
    );
    return 0;
  },
};

const STATES = [
  'active',
  'waiting',
  'prioritized',
  'delayed',
  'waiting-children',
  'completed',
  'failed',
] as const;

function label(job: Job<JobData>): string {
  const d = job.data;
  if (d.kind === 'train') return d.runDir;
  return d.file;
}

async function collect(
  target: QueueTarget,
  tag: string | undefined,
): Promise<{ state: (typeof STATES)[number]; job: Job<JobData> }[]> {
  const { Queue } = await import('bullmq');
  const queue = new Queue<JobData>(target.name, { connection: target.connection });
  try {
    const rows: { state: (typeof STATES)[number]; job: Job<JobData> }[] = [];
    for (const state of STATES) {
      const jobs = (await queue.getJobs([state])) as Job<JobData>[];
      for (const job of jobs)
        if (tag === undefined || (job.id ?? '').includes(`-${tag}`)) rows.push({ state, job });
    }
    return rows;
  } finally {
    await queue.close();
  }
}

export const queueStatusCommand: Command = {
  path: ['queue', 'status'],
  summary: 'show queued jobs: done, running (with progress), waiting, retrying, failed',
  usage: '--redis <url> [--dir <shared-dir>] [--queue <name>]',
  help: `  --dir <shared-dir>       only the jobs of this dataset or sweep directory
${redisFlagsHelp}

The last stdout line is one JSON object: {"done","running","waiting","retrying","failed","blocked"}.`,
  options: { ...redisFlags, dir: { type: 'string' } },
  async run(ctx) {
    const target = await queueTarget(ctx);
    const tag = str(ctx, 'dir') === undefined ? undefined : dirTag(dirFlag(ctx));
    const rows = await collect(target, tag);
    const counts = { done: 0, running: 0, waiting: 0, retrying: 0, failed: 0, blocked: 0 };
    for (const { state, job } of rows) {
      const retried = job.attemptsMade > 0 || job.stalledCounter > 0;
      if (state === 'completed') counts.done++;
      else if (state === 'failed') {
        counts.failed++;
        ctx.out.line(
          `failed    ${job.id ?? '?'}  ${label(job)}  after ${job.attemptsMade} tries: ${job.failedReason}`,
        );
      } else if (state === 'active') {
        counts.running++;
        const p = job.progress as Partial<JobProgress> | number;
        const where =
          typeof p === 'object' && p.host !== undefined ? ` on ${p.host} pid ${p.pid ?? '?'}` : '';
        const how =
          typeof p === 'object' && (p.total ?? 0) > 0 ? `  ${p.done ?? 0}/${p.total ?? 0}` : '';
        ctx.out.line(
          `running   ${job.id ?? '?'}  ${label(job)}${how}${where}${retried ? `  (try ${job.attemptsMade + 1}, stalled ${job.stalledCounter}x)` : ''}`,
        );
      } else if (state === 'waiting-children') counts.blocked++;
      else if (retried) {
        counts.retrying++;
        ctx.out.line(
          `retrying  ${job.id ?? '?'}  ${label(job)}  (tries ${job.attemptsMade}, stalled ${job.stalledCounter}x${job.failedReason ? `: ${job.failedReason}` : ''})`,
        );
      } else counts.waiting++;
    }
    ctx.out.line(
      `queue ${target.name} at ${target.url}: ${rows.length} jobs — done ${counts.done}, running ${counts.running}, waiting ${counts.waiting}, retrying ${counts.retrying}, failed ${counts.failed}, blocked ${counts.blocked} (merges waiting for shards)`,
    );
    ctx.out.line(JSON.stringify(counts));
    return 0;
  },
};

export const queueMergeCommand: Command = {
  path: ['queue', 'merge'],
  summary: "merge a queued dataset's shards once all are there (the queue's merge job does it too)",
  usage: '--dir <shared-dir> [--allow-env-mismatch]',
  help: `  --dir <shared-dir>       the directory given to 'queue operators generate' (reads its queue.json)
No Redis needed: the shard files themselves say whether the dataset is complete.`,
  options: { dir: { type: 'string' }, 'allow-env-mismatch': { type: 'boolean' } },
  async run(ctx) {
    const dir = dirFlag(ctx);
    const path = join(dir, 'queue.json');
    if (!existsSync(path))
      throw new XError(
        'INVALID_INPUT',
        `${path}: no such file; was 'queue operators generate --dir ${dir}' run?`,
      );
    const m = JSON.parse(readFileSync(path, 'utf8')) as DatasetManifest;
    const missing = m.parts.filter((p) => !existsSync(p));
    if (missing.length > 0)
      throw new XError(
        'INVALID_INPUT',
        `${missing.length} of ${m.parts.length} shards are not done yet, e.g. ${missing.slice(0, 3).join(', ')}; see 'runner queue status --dir ${dir}'`,
      );
    const { contentDigest, mergeShards } = await import('@x/operator-replay');
    const tmp = join(dir, `.dataset.${process.pid}.tmp.h5`);
    const res = await mergeShards(tmp, m.parts, {
      allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
    });
    renameSync(tmp, m.file);
    ctx.out.line(`merged ${res.shards} shards into ${m.file}: ${res.count} operators`);
    ctx.out.line(`content digest ${await contentDigest(m.file)}`);
    return 0;
  },
};

/** The `runner queue ...` commands and `runner sweep`. */
export const queueCommands: Command[] = [
  queueOperatorsGenerateCommand,
  queueSweepCommand,
  queueStatusCommand,
  queueMergeCommand,
  sweepCommand,
];
