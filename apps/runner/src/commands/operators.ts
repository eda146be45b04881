import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XError, applyOverrides, deepMerge, loadYamlFile } from '@x/core';
import {
  DatasetReader,
  contentDigest,
  extractFamily,
  familyNames,
  generateDataset,
  h5ready,
  mergeShards,
  operatorSpec,
  parseIndices,
  replayDataset,
  resolveDatasetConfig,
  shardRange,
  trajectorySvg,
  type DatasetConfig,
  type RolloutResult,
  type Shard,
} from '@x/operator-replay';
import { createRunLogger, type ExperimentLogger } from '@x/logging';
import { initBackend } from '@x/tensor';
import type { Command, CommandContext, Output } from '../command.js';
import { backendFlag, type BackendRequest } from '../runSetup.js';
import { parseShardFlag } from '../shardAuto.js';

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

/** A stderr progress bar that prints at most ~10 lines per run. */
export function progressBar(out: Output, label: string): (done: number, total: number) => void {
  let last = -1;
  return (done, total) => {
    const tenth = Math.floor((10 * done) / total);
    if (tenth === last && done !== total) return;
    last = tenth;
    const w = 20;
    const filled = Math.round((w * done) / total);
    out.info(`${label} [${'#'.repeat(filled)}${'-'.repeat(w - filled)}] ${done}/${total}`);
  };
}

function datasetConfig(ctx: CommandContext): DatasetConfig {
  let raw: unknown = {};
  const file = str(ctx, 'config');
  if (file !== undefined) raw = deepMerge(raw, loadYamlFile(resolve(ctx.cwd, file)));
  raw = applyOverrides(raw, (ctx.values['set'] as string[] | undefined) ?? []);
  const seed = str(ctx, 'seed');
  if (seed !== undefined) raw = deepMerge(raw, { rootSeed: intFlag(ctx, 'seed', 0) });
  return resolveDatasetConfig(
    raw,
    [file, ctx.values['set'] === undefined ? undefined : '--set'].filter(Boolean).join(' + ') ||
      'defaults',
  );
}

function svgDir(out: string): string {
  return join(dirname(out), `${basename(out).replace(/\.h5$/, '')}-svg`);
}

/** The run logger of a generation: per-operator metrics and parameters under `runDir`. */
export function operatorsLogger(
  runDir: string,
  config: DatasetConfig,
  shard: Shard | undefined,
  total: number,
): ExperimentLogger {
  const range = shardRange(total, shard ?? { index: 0, count: 1 });
  return createRunLogger({
    runDir,
    pipeline: 'operators',
    config: { ...config, totalOperators: total },
    quiet: true,
    totalSteps: range.end,
    startStep: range.start,
    resumed: false,
    handleSignals: false,
  });
}

/** Logs one operator's rollout (final energy, a few parameters) and its parameters as an episode. */
export function logRollout(
  logger: ExperimentLogger,
  config: DatasetConfig,
  r: RolloutResult,
): void {
  const [m, t, c, h, w] = r.shape;
  const field = c * h * w;
  let energy = 0;
  for (let k = 0; k < m; k++) {
    const base = (k * t + t - 1) * field;
    for (let i = 0; i < field; i++) energy += (r.trajectory[base + i] as number) ** 2;
  }
  const p = operatorSpec(config, r.index).params;
  const step = r.index + 1;
  logger.log(
    { final_energy: energy / (m * field), layers: p.numLayers, noise_scale: p.noiseScale },
    { step, category: 'generate' },
  );
  logger.logEpisode({ index: r.index, hash: r.hash, ...p }, { step, category: 'operators' });
}

function svgWriter(dir: string, limit: number, written: string[]): (r: RolloutResult) => void {
  return (r) => {
    if (written.length >= limit) return;
    mkdirSync(dir, { recursive: true });
    const p = join(dir, `operator-${String(r.index).padStart(5, '0')}.svg`);
    writeFileSync(p, trajectorySvg(r));
    written.push(p);
  };
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

function runChild(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const bin = join(root, 'src', 'bin.ts');
    const child = spawn(
      process.execPath,
      ['--conditions=@x/source', '--import', 'tsx', bin, ...args],
      {
        cwd: root,
        env: { ...process.env, INIT_CWD: cwd },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? 3, stderr }));
  });
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
  --out <file.h5>      output file
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
    const n = intFlag(ctx, 'n', 1);
    const outFlag = str(ctx, 'out');
    if (outFlag === undefined) throw new XError('INVALID_INPUT', '--out <file.h5> is required');
    const out = resolve(ctx.cwd, outFlag);
    const config = datasetConfig(ctx);
    const shard =
      str(ctx, 'shard') === undefined ? undefined : parseShardFlag(str(ctx, 'shard') as string);
    const workers = intFlag(ctx, 'workers', 1, 1);
    const backend = backendFlag(ctx.values);
    mkdirSync(dirname(out), { recursive: true });
    if (workers > 1) {
      if (shard !== undefined)
        throw new XError('INVALID_INPUT', '--workers cannot be combined with --shard');
      const k = Math.min(workers, n);
      const tmp = `${out}.parts`;
      mkdirSync(tmp, { recursive: true });
      const base = [
        'operators',
        'generate',
        '--n',
        String(n),
        '--backend',
        backend,
        '--pictures',
        '0',
        '--quiet',
      ];
      for (const f of ['config', 'seed', 'batch-size'] as const)
        if (str(ctx, f) !== undefined) base.push(`--${f}`, resolveIfFile(ctx, f));
      for (const s of (ctx.values['set'] as string[] | undefined) ?? []) base.push('--set', s);
      ctx.out.info(`generating ${n} operators in ${k} processes`);
      const parts = Array.from({ length: k }, (_, i) => join(tmp, `part-${i}.h5`));
      const log = str(ctx, 'log');
      const results = await Promise.all(
        parts.map((p, i) =>
          runChild(
            [
              ...base,
              ...(log === undefined ? [] : ['--log', join(resolve(ctx.cwd, log), `shard-${i}`)]),
              '--shard',
              `${i}/${k}`,
              '--out',
              p,
            ],
            ctx.cwd,
          ),
        ),
      );
      const failed = results.findIndex((r) => r.code !== 0);
      if (failed >= 0)
        throw new XError(
          'INTERNAL',
          `worker ${failed}/${k} failed: ${results[failed]?.stderr.trim() ?? ''}`,
        );
      await mergeShards(out, parts);
      rmSync(tmp, { recursive: true, force: true });
      ctx.out.line(
        `wrote ${out}: ${n} operators (dataset ${config.datasetId}, ${k} worker processes, merged)`,
      );
      return 0;
    }
    const info = await initBackend(backend);
    const logDir =
      str(ctx, 'log') === undefined ? undefined : resolve(ctx.cwd, str(ctx, 'log') as string);
    const logger = logDir === undefined ? undefined : operatorsLogger(logDir, config, shard, n);
    const pictures: string[] = [];
    const picture = svgWriter(svgDir(out), intFlag(ctx, 'pictures', 0, 3), pictures);
    const res = await generateDataset({
      config,
      total: n,
      out,
      ...(shard === undefined ? {} : { shard }),
      ...(str(ctx, 'batch-size') === undefined ? {} : { batchSize: intFlag(ctx, 'batch-size', 1) }),
      onProgress: progressBar(ctx.out, `generate (${info.name})`),
      onRollout: (r) => {
        picture(r);
        if (logger !== undefined) logRollout(logger, config, r);
      },
    });
    await logger?.close({ exitCode: 0, preempting: false });
    if (logDir !== undefined) ctx.out.line(`log: ${logDir}`);
    for (const p of pictures) ctx.out.line(`picture: ${p}`);
    ctx.out.line(
      `wrote ${out}: operators ${res.start}..${res.start + res.count - 1} of ${n} (dataset ${res.datasetId}, backend ${info.name})`,
    );
    return 0;
  },
};

function resolveIfFile(ctx: CommandContext, flag: string): string {
  const v = str(ctx, flag) as string;
  return flag === 'config' ? resolve(ctx.cwd, v) : v;
}

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
  options: { ...replayFlags, indices: { type: 'string' }, verify: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = resolve(ctx.cwd, ctx.positionals[0] as string);
    const indices =
      str(ctx, 'indices') === undefined ? undefined : parseIndices(str(ctx, 'indices') as string);
    await initBackend(await replayBackend(ctx, file));
    const report = await replayDataset(file, {
      ...(indices === undefined ? {} : { indices }),
      allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
      onProgress: progressBar(ctx.out, 'replay'),
    });
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
  help: `  --family <name>   one of: ${familyNames().join(', ')}`,
  options: { ...replayFlags, family: { type: 'string' }, 'batch-size': { type: 'string' } },
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
    const res = await extractFamily(file, family, {
      ...(str(ctx, 'batch-size') === undefined ? {} : { batchSize: intFlag(ctx, 'batch-size', 1) }),
      allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
      onProgress: progressBar(ctx.out, `extract ${family}`),
    });
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
    const res = await mergeShards(out, shards, {
      allowEnvironmentMismatch: ctx.values['allow-env-mismatch'] === true,
    });
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
