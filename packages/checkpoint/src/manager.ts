import { join, resolve } from 'node:path';
import {
  XError,
  captureSnapshot,
  isImmutable,
  isTensorData,
  isXError,
  walkState,
  parseConfig,
  type ComponentMap,
  type State,
  type TensorData,
} from '@x/core';
import { z } from 'zod';
import {
  estimateCheckpointBytes,
  writeCheckpointFiles,
  type LoadedCheckpoint,
} from './checkpointIo.js';
import { verifyCheckpoint } from './verify.js';
import { applyState } from './applyState.js';
import { writeFailure } from './errors.js';
import { nodeFs, type FsOps } from './fsOps.js';
import { readListing, stepDirName } from './listing.js';
import { decodeMetrics, encodeMetrics } from './manifest.js';
import type {
  CheckpointInfo,
  CheckpointManagerOptions,
  RestoreOptions,
  RestoreResult,
  SaveOptions,
  SaveResult,
  VerifyResult,
} from './managerTypes.js';
import { RetentionSchema, bestStep, stepsToDelete } from './retention.js';
import { StagingArea } from './staging.js';

const LEFTOVER = /^step-\d{8,}\.(tmp|trash)-(\d+)-\d+$/;

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const OptionsSchema = z.strictObject({
  retention: RetentionSchema.optional(),
  async: z.boolean().optional(),
  copyState: z.boolean().optional(),
  versions: z.record(z.string(), z.string()).optional(),
  minFreeBytes: z.number().int().nonnegative().optional(),
  onWarning: z.custom<(message: string) => void>((v) => typeof v === 'function').optional(),
  beforeSave: z
    .custom<(step: number) => void | Promise<void>>((v) => typeof v === 'function')
    .optional(),
  afterSave: z
    .custom<NonNullable<CheckpointManagerOptions['afterSave']>>((v) => typeof v === 'function')
    .optional(),
  fs: z.custom<FsOps>((v) => typeof v === 'object' && v !== null).optional(),
});

const RestoreOptionsSchema = z.strictObject({
  step: z.union([z.number().int().nonnegative(), z.literal('latest')]).optional(),
  allowFallback: z.boolean().optional(),
  verifyDigest: z.boolean().optional(),
});

/**
 * Atomic, checksummed checkpoints of a set of {@link ComponentMap components} in one directory
 * (`step-XXXXXXXX/` subdirectories with `state.safetensors`, `state.json`, `manifest.json`).
 *
 * @example
 * const ckpt = new CheckpointManager('runs/a/checkpoints', { retention: { keepLast: 3 } });
 * await ckpt.save(100, { model, optimizer, rng }, { metrics: { loss } });
 * const { step } = await ckpt.restore({ model, optimizer, rng });
 */
export class CheckpointManager {
  /** The checkpoint directory. */
  readonly directory: string;
  readonly #opts: CheckpointManagerOptions;
  readonly #fs: FsOps;
  #ready: Promise<void> | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #inFlight: Promise<void> | undefined;
  #pendingError: XError | undefined;
  #tmpCounter = 0;
  readonly #staging = new StagingArea();

  constructor(directory: string, options: CheckpointManagerOptions = {}) {
    this.#opts = parseConfig(OptionsSchema, options, 'CheckpointManager options');
    this.directory = resolve(directory);
    this.#fs = options.fs ?? nodeFs;
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      try {
        await this.#fs.mkdir(this.directory);
        for (const name of await this.#fs.readdir(this.directory)) {
          const m = LEFTOVER.exec(name);
          if (m !== null && !isAlive(Number(m[2]))) await this.#fs.rm(join(this.directory, name));
        }
      } catch (err) {
        this.#ready = undefined;
        throw writeFailure(err, `cannot open checkpoint directory ${this.directory}`);
      }
    })();
    return this.#ready;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #settle(): Promise<void> {
    await this.#init();
    if (this.#inFlight !== undefined) await this.#inFlight;
    const err = this.#pendingError;
    if (err !== undefined) {
      this.#pendingError = undefined;
      throw err;
    }
  }

  #warn(message: string): void {
    this.#opts.onWarning?.(message);
  }

  /**
   * Saves the components' states as checkpoint `step`. The state is captured before `save`
   * resolves, so later changes to the components never reach the checkpoint. With `async`, the
   * write continues in the background (at most one at a time; a failure is thrown by the next
   * call), and tensors in shared memory are copied by helper threads while `save` is pending.
   * Components with `snapshot()` are captured through it: their arrays marked immutable are
   * written without any copy, the rest copied once into reused staging memory. Throws
   * `ENVIRONMENT` when the disk lacks space or permission (earlier checkpoints stay intact) and
   * `INVALID_INPUT` when the step already exists.
   */
  save(step: number, components: ComponentMap, options: SaveOptions = {}): Promise<SaveResult> {
    return this.#serial(async () => {
      await this.#settle();
      if (!Number.isSafeInteger(step) || step < 0) {
        throw new XError(
          'INVALID_INPUT',
          `checkpoint step must be a non-negative integer, got ${step}`,
        );
      }
      const path = join(this.directory, stepDirName(step));
      if ((await this.#fs.readdir(this.directory)).includes(stepDirName(step))) {
        throw new XError(
          'INVALID_INPUT',
          `checkpoint ${path} already exists; a checkpoint is never overwritten`,
        );
      }
      const background = this.#opts.async === true;
      await this.#opts.beforeSave?.(step);
      const { state, release } = await this.#capture(components, background);
      let work: Promise<void>;
      try {
        const need = estimateCheckpointBytes(state) + (this.#opts.minFreeBytes ?? 1 << 20);
        let free: number;
        try {
          free = await this.#fs.freeBytes(this.directory);
        } catch (err) {
          throw writeFailure(err, `cannot check free space on ${this.directory}`);
        }
        if (free < need) {
          throw new XError(
            'ENVIRONMENT',
            `not enough disk space for checkpoint ${path}: need about ${mib(need)}, ${mib(free)} free; earlier checkpoints are intact`,
            { details: { need, free } },
          );
        }
        const captured = {
          step,
          state,
          metrics: { ...(options.metrics ?? {}) },
          metadata: jsonCopy(options.metadata ?? {}, 'metadata'),
          versions: { ...(this.#opts.versions ?? {}) },
        };
        encodeMetrics(captured.metrics);
        work = this.#commit(captured, path).finally(release);
      } catch (err) {
        release();
        throw err;
      }
      if (!background) {
        await work;
        return { step, path, pending: false };
      }
      this.#inFlight = work.then(
        () => {
          this.#inFlight = undefined;
        },
        (err: unknown) => {
          this.#inFlight = undefined;
          this.#pendingError =
            err instanceof XError ? err : writeFailure(err, `checkpoint ${path}`);
        },
      );
      return { step, path, pending: true };
    });
  }

  /**
   * The state to write, and the release of what its snapshots pinned (call once written): snapshot
   * views are copied into staging memory (they are valid only until the components change),
   * `getState()` results too when the write runs in the background (unless `copyState: false`);
   * arrays marked immutable are never copied.
   */
  async #capture(
    components: ComponentMap,
    background: boolean,
  ): Promise<{ state: Record<string, State>; release: () => void }> {
    const { state, viewed, release } = await captureSnapshot(components);
    try {
      const copyOwned = background && this.#opts.copyState !== false;
      const keep = new Set<TensorData>();
      for (const name of Object.keys(state)) {
        const copy = viewed.has(name) || copyOwned;
        for (const { value } of walkState(state[name] as State)) {
          if (isTensorData(value) && (!copy || isImmutable(value.data))) keep.add(value);
        }
      }
      return { state: await this.#staging.copy(state, (t) => keep.has(t)), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  async #commit(captured: Parameters<typeof writeCheckpointFiles>[2], path: string): Promise<void> {
    const fs = this.#fs;
    const tmp = `${path}.tmp-${process.pid}-${++this.#tmpCounter}`;
    try {
      await fs.mkdir(tmp);
      await writeCheckpointFiles(fs, tmp, captured);
      await fs.rename(tmp, path);
      await fs.syncDir(this.directory);
    } catch (err) {
      await fs.rm(tmp).catch(() => undefined);
      throw writeFailure(err, `cannot write checkpoint ${path} (earlier checkpoints are intact)`);
    }
    try {
      await this.#opts.afterSave?.(captured.step, { path, metrics: { ...captured.metrics } });
    } catch (err) {
      this.#warn(`afterSave of checkpoint ${path} failed: ${(err as Error).message}`);
    }
    await this.#applyRetention();
  }

  async #applyRetention(): Promise<void> {
    const policy = this.#opts.retention;
    if (policy === undefined) return;
    let all: CheckpointInfo[];
    try {
      all = await this.#list();
    } catch (err) {
      this.#warn(`retention skipped: cannot list ${this.directory}: ${(err as Error).message}`);
      return;
    }
    for (const step of stepsToDelete(policy, all)) {
      const from = join(this.directory, stepDirName(step));
      const trash = `${from}.trash-${process.pid}-${++this.#tmpCounter}`;
      try {
        await this.#fs.rename(from, trash);
        await this.#fs.syncDir(this.directory);
        await this.#fs.rm(trash);
      } catch (err) {
        this.#warn(`retention could not delete ${from}: ${(err as Error).message}`);
      }
    }
  }

  #list(): Promise<CheckpointInfo[]> {
    return readListing(this.#fs, this.directory);
  }

  /** Committed checkpoints, oldest first (temporary leftovers of crashed saves are never listed). */
  list(): Promise<CheckpointInfo[]> {
    return this.#serial(async () => {
      await this.#settle();
      return this.#list();
    });
  }

  /** The newest committed step, or undefined when there is none. */
  async latest(): Promise<number | undefined> {
    return (await this.list()).at(-1)?.step;
  }

  /** The best step by the retention policy's `best` metric, or undefined. */
  async best(): Promise<number | undefined> {
    return bestStep(this.#opts.retention ?? {}, await this.list());
  }

  /** Fully verifies one checkpoint (checksums, structure, state digest) without restoring it. */
  verify(step: number): Promise<VerifyResult> {
    return this.#serial(async () => {
      await this.#settle();
      try {
        const loaded = await this.#load(step, true);
        return { ok: true as const, step, manifest: loaded.manifest };
      } catch (err) {
        return { ok: false as const, step, problem: (err as Error).message };
      }
    });
  }

  async #load(step: number, verifyDigest: boolean): Promise<LoadedCheckpoint> {
    return verifyCheckpoint(this.#fs, join(this.directory, stepDirName(step)), step, {
      verifyDigest,
    });
  }

  /**
   * Verifies a checkpoint and restores the components from it (every component's tree, shapes
   * and dtypes are checked first, so a mismatch fails naming the leaf path and changes nothing).
   * A damaged newest checkpoint is an `INTEGRITY` error unless `allowFallback`, which restores
   * the newest valid one and reports the skipped ones as warnings. Components absent from the
   * map but present in the checkpoint are ignored. Every file's size and SHA-256 is checked;
   * the state digest is recomputed only with `verifyDigest` (as {@link CheckpointManager.verify}
   * always does).
   */
  restore(components: ComponentMap, options: RestoreOptions = {}): Promise<RestoreResult> {
    return this.#serial(async () => {
      const opts = parseConfig(RestoreOptionsSchema, options, 'restore options');
      await this.#settle();
      const want = opts.step ?? 'latest';
      const listed = await this.#list();
      const candidates = want === 'latest' ? listed.map((c) => c.step).reverse() : [want];
      if (candidates.length === 0)
        throw new XError('NOT_FOUND', `no checkpoint in ${this.directory}`);
      if (want !== 'latest' && !listed.some((c) => c.step === want)) {
        throw new XError('NOT_FOUND', `no checkpoint for step ${want} in ${this.directory}`);
      }
      const warnings: string[] = [];
      for (const step of candidates) {
        let loaded: LoadedCheckpoint;
        try {
          loaded = await this.#load(step, opts.verifyDigest === true);
        } catch (err) {
          if (!isXError(err, 'INTEGRITY')) throw err;
          if (opts.allowFallback !== true || want !== 'latest') {
            throw new XError(
              'INTEGRITY',
              `checkpoint ${stepDirName(step)} is damaged: ${err.message}${want === 'latest' ? '; allow a fallback (runner: --resume does) to restore the newest valid checkpoint' : ''}`,
              { cause: err },
            );
          }
          const w = `checkpoint ${join(this.directory, stepDirName(step))} is damaged and was skipped: ${err.message}`;
          warnings.push(w);
          this.#warn(w);
          continue;
        }
        await applyState(components, loaded);
        const m = loaded.manifest;
        return {
          step,
          path: loaded.dir,
          manifest: m,
          metadata: m.metadata,
          metrics: decodeMetrics(m.metrics),
          warnings,
        };
      }
      throw new XError(
        'INTEGRITY',
        `no valid checkpoint in ${this.directory}: ${warnings.join('; ')}`,
      );
    });
  }

  /**
   * Moves a (damaged) checkpoint out of the listing to `step-XXXXXXXX.damaged-…`, kept for
   * inspection, so that the step can be saved again. Returns the new path.
   */
  quarantine(step: number): Promise<string> {
    return this.#serial(async () => {
      await this.#settle();
      const from = join(this.directory, stepDirName(step));
      const to = `${from}.damaged-${process.pid}-${++this.#tmpCounter}`;
      try {
        await this.#fs.rename(from, to);
        await this.#fs.syncDir(this.directory);
      } catch (err) {
        throw writeFailure(err, `cannot move ${from} aside`);
      }
      return to;
    });
  }

  /** Waits for a background save; throws its error if it failed. */
  wait(): Promise<void> {
    return this.#serial(() => this.#settle());
  }

  /** Same as {@link CheckpointManager.wait}; call before the process exits. */
  close(): Promise<void> {
    return this.wait();
  }
}

function jsonCopy(value: Record<string, unknown>, what: string): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  } catch (err) {
    throw new XError(
      'INVALID_INPUT',
      `${what}: not JSON-serializable (${(err as Error).message})`,
      { cause: err },
    );
  }
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}
