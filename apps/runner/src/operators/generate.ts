import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XError } from '@x/core';
import {
  generateDataset,
  mergeShards,
  operatorSpec,
  shardRange,
  trajectorySvg,
  type DatasetConfig,
  type GenerateResult,
  type RolloutResult,
  type Shard,
} from '@x/operator-replay';
import { createRunLogger, type ExperimentLogger } from '@x/logging';
import { initBackend } from '@x/tensor';
import { atomicOutput, writeFileAtomic } from '../atomicWrite.js';
import { progressView } from '../progress.js';
import { acquireRunLock } from '../runLock.js';
import type { BackendRequest } from '../runSetup.js';

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
  logger.log({ final_energy: energy / (m * field) }, { step, category: 'generate' });
  logger.logEpisode({ index: r.index, hash: r.hash, ...p }, { step, category: 'operators' });
}

/** Options of {@link runOperatorsGenerate}. */
export interface OperatorsGenerateOptions {
  config: DatasetConfig;
  /** Operators in the whole dataset. */
  total: number;
  out: string;
  shard?: Shard | undefined;
  batchSize?: number | undefined;
  backend: BackendRequest;
  /** A run directory for per-operator metrics and episodes (locked while generating). */
  logDir?: string | undefined;
  /** SVG film strips of the first operators. */
  pictures: number;
  /** Where the pictures go (default `<out>-svg/` beside the file). */
  svgDir?: string | undefined;
  quiet: boolean;
  signal?: AbortSignal | undefined;
}

/** What a generation produced (`result` undefined when interrupted: no file was written). */
export interface OperatorsGenerateOutcome {
  result: GenerateResult | undefined;
  backend: string;
  pictures: string[];
}

/** `<dir>/<name>-svg` beside a dataset file. */
export function svgDirOf(out: string): string {
  return join(dirname(out), `${basename(out).replace(/\.h5$/, '')}-svg`);
}

/**
 * The operators pipeline's main work: generates a dataset (or one shard) into `out` — written
 * beside it and renamed, so an existing file survives any crash — with a live progress view,
 * optional run logging and SVG film strips. Stops after the current operator when `signal` is
 * aborted, leaving `out` untouched.
 */
export async function runOperatorsGenerate(
  o: OperatorsGenerateOptions,
): Promise<OperatorsGenerateOutcome> {
  const info = await initBackend(o.backend);
  mkdirSync(dirname(o.out), { recursive: true });
  const lock =
    o.logDir === undefined
      ? undefined
      : (mkdirSync(o.logDir, { recursive: true }), acquireRunLock(o.logDir, 'operators generate'));
  const logger =
    o.logDir === undefined ? undefined : operatorsLogger(o.logDir, o.config, o.shard, o.total);
  const range = shardRange(o.total, o.shard ?? { index: 0, count: 1 });
  const view = progressView({
    label: `operators generate (${info.name})`,
    total: range.end - range.start,
    quiet: o.quiet,
  });
  const pictures: string[] = [];
  const svgDir = o.svgDir ?? svgDirOf(o.out);
  try {
    const result = await atomicOutput(o.out, (tmp) =>
      generateDataset({
        config: o.config,
        total: o.total,
        out: tmp,
        ...(o.shard === undefined ? {} : { shard: o.shard }),
        ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
        onProgress: (done) => view.log({ operators: done }, { step: done, category: 'generate' }),
        onRollout: (r) => {
          if (pictures.length < o.pictures) {
            mkdirSync(svgDir, { recursive: true });
            const p = join(svgDir, `operator-${String(r.index).padStart(5, '0')}.svg`);
            writeFileAtomic(p, trajectorySvg(r));
            pictures.push(p);
          }
          if (logger !== undefined) logRollout(logger, o.config, r);
        },
      }),
    );
    return { result: { ...result, path: o.out }, backend: info.name, pictures };
  } catch (err) {
    if (o.signal?.aborted === true) return { result: undefined, backend: info.name, pictures };
    throw err;
  } finally {
    await view.close({ exitCode: 0, preempting: false });
    await logger?.close({ exitCode: 0, preempting: o.signal?.aborted === true });
    lock?.release();
  }
}

/**
 * How to start the runner in a child process: the built `bin.js` beside this module's
 * directory when the runner runs from built JavaScript, else `bin.ts` from source (which needs
 * the TypeScript loader; development only).
 */
export function runnerEntry(): string[] {
  const built = fileURLToPath(new URL('../bin.js', import.meta.url));
  if (existsSync(built)) return [built];
  const source = fileURLToPath(new URL('../bin.ts', import.meta.url));
  return ['--conditions=@x/source', '--import', import.meta.resolve('tsx'), source];
}

function runChild(
  args: string[],
  cwd: string,
  signal: AbortSignal | undefined,
): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...runnerEntry(), ...args], {
      cwd,
      env: { ...process.env, INIT_CWD: cwd },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stop = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', stop, { once: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      signal?.removeEventListener('abort', stop);
      done({ code: code ?? 3, stderr });
    });
  });
}

/**
 * Generates `total` operators in `workers` child processes (one shard each), then merges the
 * shards into `out` (written beside it and renamed). `baseArgs` are the generate flags every
 * child gets (config, seed, backend, …). On a signal the children are stopped and nothing is
 * written; returns false then.
 */
export async function runOperatorsWorkers(o: {
  total: number;
  out: string;
  workers: number;
  baseArgs: string[];
  logDir?: string | undefined;
  cwd: string;
  signal?: AbortSignal | undefined;
}): Promise<boolean> {
  const k = Math.min(o.workers, o.total);
  const tmp = `${o.out}.parts`;
  mkdirSync(tmp, { recursive: true });
  try {
    const parts = Array.from({ length: k }, (_, i) => join(tmp, `part-${i}.h5`));
    const results = await Promise.all(
      parts.map((p, i) =>
        runChild(
          [
            ...o.baseArgs,
            ...(o.logDir === undefined ? [] : ['--log', join(o.logDir, `shard-${i}`)]),
            '--shard',
            `${i}/${k}`,
            '--out',
            p,
          ],
          o.cwd,
          o.signal,
        ),
      ),
    );
    if (o.signal?.aborted === true) return false;
    const failed = results.findIndex((r) => r.code !== 0);
    if (failed >= 0)
      throw new XError(
        'INTERNAL',
        `worker ${failed}/${k} failed: ${results[failed]?.stderr.trim() ?? ''}`,
      );
    await atomicOutput(o.out, (t) =>
      mergeShards(t, parts, o.signal === undefined ? {} : { signal: o.signal }),
    );
    return true;
  } catch (err) {
    if (o.signal?.aborted === true) return false;
    throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
