import { copyFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { XError } from '@x/core';
import {
  DatasetReader,
  contentDigest,
  extractFamily,
  familyNames,
  h5ready,
  mergeShards,
  parseIndices,
  replayDataset,
  resolveDatasetConfig,
  type DatasetConfig,
} from '@x/operator-replay';
import { initBackend } from '@x/tensor';
import { atomicOutput } from '../atomicWrite.js';
import type { Command, CommandContext } from '../command.js';
import { int, list, optInt, requiredStr, str as flag } from '../flags.js';
import { runOperatorsGenerate, runOperatorsWorkers } from '../operators/generate.js';
import { progressView } from '../progress.js';
import { resolveRunConfig } from '../resolveConfig.js';
import { backendFlag, type BackendRequest } from '../runSetup.js';
import { parseShardFlag } from '../shardAuto.js';

const str = (ctx: CommandContext, name: string) => flag(ctx.values, name);

/** The dataset config through the runner's one config path (`--config`, `--set`, `--seed`). */
function datasetConfig(ctx: CommandContext): DatasetConfig {
  const seed = optInt(ctx.values, 'seed', 0);
  return resolveRunConfig({
    validate: (raw, source) => resolveDatasetConfig(raw, source),
    defaults: {},
    values: ctx.values,
    cwd: ctx.cwd,
    flags: { rootSeed: seed },
  }).config;
}

/** Backend for a replay: the flag or X_BACKEND when given, else the one the file records. */
async function replayBackend(ctx: CommandContext, file: string): Promise<BackendRequest> {
  if (str(ctx, 'backend') !== undefined || process.env['X_BACKEND'] !== undefined)
    return backendFlag(ctx.values);
  await h5ready();
  const r = DatasetReader.open(file);
  try {
    return backendFlag({ backend: r.header.environment.backend });
  } finally {
    r.close();
  }
}

/** Progress callbacks of a library loop shown in a live view (created at the first call). */
function progressOf(ctx: CommandContext, label: string) {
  let view: ReturnType<typeof progressView> | undefined;
  return {
    onProgress: (done: number, total: number) => {
      view ??= progressView({ label, total, quiet: ctx.quiet });
      view.log({ done }, { step: done, category: 'progress' });
    },
    close: () => view?.close({ exitCode: 0, preempting: false }),
  };
}

function interrupted(ctx: CommandContext, what: string): number {
  ctx.out.warn(`interrupted: ${what}`);
  return 0;
}

const configFlags = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  seed: { type: 'string' },
  backend: { type: 'string' },
} as const;

export const operatorsGenerateCommand: Command = {
  path: ['operators', 'generate'],
  summary: 'generate a neural-operator dataset (feature-only HDF5 with replay hashes)',
  usage:
    '--n <N> --out <file.h5> [--shard <i>/<n>] [--workers <k>] [--config <file.yaml>] [--set k=v] [--seed <n>]',
  help: `  --n <N>              operators in the whole dataset
  --out <file.h5>      output file (written beside it and renamed: an existing file survives a crash)
  --shard <i>/<n>      only shard i (0-based) of n: a disjoint slice, identical to the same rows of a single run
                       (auto: i and n from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX + JOB_COMPLETIONS; auto/<n>: n given)
  --workers <k>        generate k shards in k processes, then merge (same file as one process)
  --config, --set      dataset config (YAML; keys: rootSeed, timesteps, realizations, parameters.<name>, ...)
  --seed <n>           root seed (rootSeed)
  --pictures <k>       SVG film strips of the first k operators beside the file (default 3, 0 = none)
  --batch-size <b>     operators per written batch (results do not depend on it)
  --backend <b>        auto|tensorflow|wasm|cpu (recorded in the file; replay needs the same)
  --log <run-dir>      also log per-operator metrics and parameters (logs/metrics.jsonl, episodes, TensorBoard)`,
  options: {
    ...configFlags,
    n: { type: 'string' },
    out: { type: 'string' },
    shard: { type: 'string' },
    workers: { type: 'string' },
    pictures: { type: 'string' },
    log: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run(ctx) {
    const n = int(ctx.values, 'n', 1);
    if (n > 2 ** 31 - 1)
      throw new XError('INVALID_INPUT', `--n: at most 2^31-1 operators, got ${n}`);
    const out = resolve(ctx.cwd, requiredStr(ctx.values, 'out', 'file.h5'));
    const config = datasetConfig(ctx);
    const shardRaw = str(ctx, 'shard');
    const shard = shardRaw === undefined ? undefined : parseShardFlag(shardRaw);
    const workers = int(ctx.values, 'workers', 1, 1);
    const backend = backendFlag(ctx.values);
    const log = str(ctx, 'log');
    const logDir = log === undefined ? undefined : resolve(ctx.cwd, log);
    const batchSize = optInt(ctx.values, 'batch-size', 1);
    if (workers > 1) {
      if (shard !== undefined)
        throw new XError('INVALID_INPUT', '--workers cannot be combined with --shard');
      const k = Math.min(workers, n);
      const baseArgs = ['operators', 'generate', '--n', String(n), '--backend', backend];
      baseArgs.push('--pictures', '0', '--quiet');
      const file = str(ctx, 'config');
      if (file !== undefined) baseArgs.push('--config', resolve(ctx.cwd, file));
      if (str(ctx, 'seed') !== undefined) baseArgs.push('--seed', str(ctx, 'seed') as string);
      if (batchSize !== undefined) baseArgs.push('--batch-size', String(batchSize));
      for (const s of list(ctx.values, 'set')) baseArgs.push('--set', s);
      ctx.out.info(`generating ${n} operators in ${k} processes`);
      const done = await runOperatorsWorkers({
        total: n,
        out,
        workers: k,
        baseArgs,
        logDir,
        cwd: ctx.cwd,
        signal: ctx.signal,
      });
      if (!done) return interrupted(ctx, `${out} not written`);
      ctx.out.line(
        `wrote ${out}: ${n} operators (dataset ${config.datasetId}, ${k} worker processes, merged)`,
      );
      return 0;
    }
    const r = await runOperatorsGenerate({
      config,
      total: n,
      out,
      shard,
      batchSize,
      backend,
      logDir,
      pictures: int(ctx.values, 'pictures', 0, 3),
      quiet: ctx.quiet,
      signal: ctx.signal,
    });
    if (r.result === undefined) return interrupted(ctx, `${out} not written`);
    if (logDir !== undefined) ctx.out.line(`log: ${logDir}`);
    for (const p of r.pictures) ctx.out.line(`picture: ${p}`);
    const res = r.result;
    ctx.out.line(
      `wrote ${out}: operators ${res.start}..${res.start + res.count - 1} of ${n} (dataset ${res.datasetId}, backend ${r.backend})`,
    );
    return 0;
  },
};

const replayFlags = {
  backend: { type: 'string' },
  'allow-env-mismatch': { type: 'boolean' },
} as const;

export const operatorsReplayCommand: Command = {
  path: ['operators', 'replay'],
  summary: 'replay operators from the file alone and check bit-exactness (exit 1 on any mismatch)',
  usage: '<file.h5> [--indices <list>] --verify [--backend <b>] [--allow-env-mismatch]',
  help: `  --indices <list>       global operator indices, e.g. 0,3,10-12 (default all)
  --verify               compare each replayed trajectory's SHA-256 with the stored one
  --backend <b>          default: the backend the file records
  --allow-env-mismatch   replay even if backend or library versions differ from the file's`,
  options: {
    ...replayFlags,
    indices: { type: 'string' },
    verify: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = resolve(ctx.cwd, ctx.positionals[0] as string);
    const rawIndices = str(ctx, 'indices');
    const indices = rawIndices === undefined ? undefined : parseIndices(rawIndices, '--indices');
    await initBackend(await replayBackend(ctx, file));
    const progress = progressOf(ctx, 'operators replay');
    let report;
    try {
      report = await replayDataset(file, {
        ...(indices === undefined ? {} : { indices }),
        allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
        onProgress: progress.onProgress,
        signal: ctx.signal,
      });
    } catch (err) {
      if (ctx.signal.aborted) return interrupted(ctx, 'replay stopped before the last operator');
      throw err;
    } finally {
      await progress.close();
    }
    for (const d of report.environmentDifferences) ctx.out.warn(`environment differs: ${d}`);
    for (const m of report.mismatches)
      ctx.out.line(`operator ${m.index}: MISMATCH stored ${m.expected} replayed ${m.actual}`);
    const summary = JSON.stringify({
      file,
      checked: report.checked,
      mismatches: report.mismatches.map((m) => m.index),
    });
    if (ctx.values['verify'] === true && report.mismatches.length > 0) {
      ctx.out.line(summary);
      throw new XError(
        'INTEGRITY',
        `${file}: ${report.mismatches.length} of ${report.checked} operators do not replay bit-exactly: ${report.mismatches.map((m) => m.index).join(', ')}`,
      );
    }
    ctx.out.line(
      ctx.values['verify'] === true
        ? `verified ${report.checked} operators: all bit-exact`
        : `replayed ${report.checked} operators`,
    );
    ctx.out.line(summary);
    return 0;
  },
};

export const operatorsExtractCommand: Command = {
  path: ['operators', 'extract'],
  summary: 'add a feature family to a dataset by replay',
  usage: '<file.h5> --family <name> [--batch-size <b>] [--backend <b>] [--allow-env-mismatch]',
  help: `  --family <name>   one of: ${familyNames().join(', ')}
  --batch-size <b>  operators per batch (results do not depend on it)`,
  options: {
    ...replayFlags,
    family: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = resolve(ctx.cwd, ctx.positionals[0] as string);
    const family = str(ctx, 'family');
    if (family === undefined)
      throw new XError(
        'INVALID_INPUT',
        `--family <name> is required (one of: ${familyNames().join(', ')})`,
      );
    await initBackend(await replayBackend(ctx, file));
    const batchSize = optInt(ctx.values, 'batch-size', 1);
    const progress = progressOf(ctx, `operators extract ${family}`);
    let res;
    try {
      res = await atomicOutput(file, async (tmp) => {
        copyFileSync(file, tmp);
        return extractFamily(tmp, family, {
          ...(batchSize === undefined ? {} : { batchSize }),
          allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
          onProgress: progress.onProgress,
          signal: ctx.signal,
        });
      });
    } catch (err) {
      if (ctx.signal.aborted) return interrupted(ctx, `${file} left as it was`);
      throw err;
    } finally {
      await progress.close();
    }
    ctx.out.line(
      `added /features/${res.family}/{${res.datasets.join(',')}} for ${res.count} operators to ${file}`,
    );
    return 0;
  },
};

export const operatorsMergeCommand: Command = {
  path: ['operators', 'merge'],
  summary: 'merge shard files into one dataset file (equal to a single-process run)',
  usage: '<out.h5> <shard.h5>... [--allow-env-mismatch]',
  options: { 'allow-env-mismatch': { type: 'boolean' } },
  positionals: { min: 2, max: 10_000 },
  async run(ctx) {
    const [outArg, ...shards] = ctx.positionals.map((p) => resolve(ctx.cwd, p));
    const out = outArg as string;
    if (shards.includes(out))
      throw new XError('INVALID_INPUT', `merge: output ${out} is also a shard`);
    ctx.out.info(`merging ${shards.length} shards into ${out}`);
    let res;
    try {
      res = await atomicOutput(out, (tmp) =>
        mergeShards(tmp, shards, {
          allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
          signal: ctx.signal,
        }),
      );
    } catch (err) {
      if (ctx.signal.aborted) return interrupted(ctx, `${out} not written`);
      throw err;
    }
    ctx.out.line(`merged ${res.shards} shards into ${out}: ${res.count} operators`);
    ctx.out.line(`content digest ${await contentDigest(out)}`);
    return 0;
  },
};

export const operatorsInspectCommand: Command = {
  path: ['operators', 'inspect'],
  summary: 'print a dataset file header: dataset id, seed scheme, environment, feature families',
  usage: '<file.h5>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = resolve(ctx.cwd, ctx.positionals[0] as string);
    await h5ready();
    const r = DatasetReader.open(file);
    try {
      const h = r.header;
      ctx.out.line(
        JSON.stringify({
          file,
          datasetId: h.config.datasetId,
          rootSeed: h.config.rootSeed,
          operators: {
            start: h.start,
            count: h.count,
            total: h.totalOperators,
            shard: `${h.shard.index}/${h.shard.count}`,
          },
          trajectory: {
            timesteps: h.config.timesteps,
            realizations: h.config.realizations,
            channels: h.config.channels,
          },
          environment: h.environment,
          families: h.featureRegistry,
        }),
      );
    } finally {
      r.close();
    }
    return 0;
  },
};

/** The `runner operators ...` commands. */
export const operatorsCommands: Command[] = [
  operatorsGenerateCommand,
  operatorsReplayCommand,
  operatorsExtractCommand,
  operatorsMergeCommand,
  operatorsInspectCommand,
];
