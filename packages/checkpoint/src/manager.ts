import { join, resolve } from 'node:path';
import {
  XError,
  captureState,
  cloneState,
  isTensorData,
  isXError,
  parseConfig,
  type ComponentMap,
  type State,
} from '@x/core';
import { z } from 'zod';
import {
  estimateCheckpointBytes,
  loadCheckpoint,
  writeCheckpointFiles,
  type LoadedCheckpoint,
} from './checkpointIo.js';
import { writeFailure } from './errors.js';
import { nodeFs, type FsOps } from './fsOps.js';
import { FILES, decodeMetrics, encodeMetrics, parseManifest, type Manifest } from './manifest.js';
import { RetentionSchema, bestStep, stepsToDelete, type RetentionPolicy } from './retention.js';

const STEP_DIR = /^step-(\d{8,})$/;
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

/** The directory name of a step: `step-00000040`. */
export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

const OptionsSchema = z.strictObject({
  retention: RetentionSchema.optional(),
  async: z.boolean().optional(),
  copyState: z.boolean().optional(),
  versions: z.record(z.string(), z.string()).optional(),
  minFreeBytes: z.number().int().nonnegative().optional(),
  onWarning: z.custom<(message: string) => void>((v) => typeof v === 'function').optional(),
  fs: z.custom<FsOps>((v) => typeof v === 'object' && v !== null).optional(),
});

/** Options of {@link CheckpointManager}. */
export interface CheckpointManagerOptions {
  /** Which checkpoints to keep (default: all). */
  retention?: RetentionPolicy;
  /** Write in the background: `save` returns once the state is captured (default false). */
  async?: boolean;
  /** Deep-copy captured states before a background write (default true when `async`). */
  copyState?: boolean;
  /** Library and backend versions recorded in every manifest (e.g. `{ tfjs: '4.22.0', backend: 'cpu' }`). */
  versions?: Record<string, string>;
  /** Free space required beyond the checkpoint's estimated size (default 1 MiB). */
  minFreeBytes?: number;
  /** Receives warnings (fallback to an older checkpoint, retention that could not delete). */
  onWarning?: (message: string) => void;
  /** File-system operations (default `node:fs`); inject to simulate failures. */
  fs?: FsOps;
}

/** Metrics and metadata stored with a checkpoint. */
export interface SaveOptions {
  /** Numbers recorded in the manifest; retention's `best` rule ranks by one of them. */
  metrics?: Record<string, number>;
  /** Any JSON recorded in the manifest and returned by `restore`. */
  metadata?: Record<string, unknown>;
}

/** What `save` reports. */
export interface SaveResult {
  step: number;
  path: string;
  /** True when the write continues in the background (`async`); see {@link CheckpointManager.wait}. */
  pending: boolean;
}

/** One listed checkpoint (from its directory name and manifest, not yet verified). */
export interface CheckpointInfo {
  step: number;
  path: string;
  createdAt?: string;
  metrics?: Record<string, number>;
  /** Why the manifest could not be read, when it could not. */
  damaged?: string;
}

/** Options of {@link CheckpointManager.restore}. */
export interface RestoreOptions {
  /** Which checkpoint: a step or `'latest'` (default). */
  step?: number | 'latest';
  /** When the newest checkpoint is damaged, restore the newest valid one and warn (default false). */
  allowFallback?: boolean;
}

/** What `restore` reports. */
export interface RestoreResult {
  step: number;
  path: string;
  manifest: Manifest;
  metadata: Record<string, unknown>;
  metrics: Record<string, number>;
  /** Warnings about damaged newer checkpoints that were skipped. */
  warnings: string[];
}

/** Result of {@link CheckpointManager.verify}. */
export type VerifyResult =
  { ok: true; step: number; manifest: Manifest } | { ok: false; step: number; problem: string };

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
   * call). Throws `ENVIRONMENT` when the disk lacks space or permission (earlier checkpoints
   * stay intact) and `INVALID_INPUT` when the step already exists.
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
      let state: Record<string, State> = await captureState(components);
      if (background && this.#opts.copyState !== false) state = cloneState(state);
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
      const work = this.#commit(captured, path);
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

  async #list(): Promise<CheckpointInfo[]> {
    const out: CheckpointInfo[] = [];
    for (const name of await this.#fs.readdir(this.directory)) {
      const m = STEP_DIR.exec(name);
      if (m === null) continue;
      const path = join(this.directory, name);
      const info: CheckpointInfo = { step: Number(m[1]), path };
      try {
        const mPath = join(path, FILES.manifest);
        const f = await this.#fs.open(mPath, 'r');
        let text: string;
        try {
          const size = await this.#fs.size(mPath);
          const buf = Buffer.alloc(Math.min(size, 16 << 20));
          await f.read(buf, 0);
          text = buf.toString('utf8');
        } finally {
          await f.close();
        }
        const manifest = parseManifest(text, mPath);
        info.createdAt = manifest.createdAt;
        info.metrics = decodeMetrics(manifest.metrics);
      } catch (err) {
        info.damaged = (err as Error).message;
      }
      out.push(info);
    }
    return out.sort((a, b) => a.step - b.step);
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
        const loaded = await this.#load(step);
        return { ok: true as const, step, manifest: loaded.manifest };
      } catch (err) {
        return { ok: false as const, step, problem: (err as Error).message };
      }
    });
  }

  async #load(step: number): Promise<LoadedCheckpoint> {
    const dir = join(this.directory, stepDirName(step));
    const loaded = await loadCheckpoint(this.#fs, dir);
    if (loaded.manifest.step !== step) {
      throw new XError('INTEGRITY', `${dir}: manifest says step ${loaded.manifest.step}`);
    }
    return loaded;
  }

  /**
   * Verifies a checkpoint and restores the components from it (every component's tree, shapes
   * and dtypes are checked first, so a mismatch fails naming the leaf path and changes nothing).
   * A damaged newest checkpoint is an `INTEGRITY` error unless `allowFallback`, which restores
   * the newest valid one and reports the skipped ones as warnings. Components absent from the
   * map but present in the checkpoint are ignored.
   */
  restore(components: ComponentMap, options: RestoreOptions = {}): Promise<RestoreResult> {
    return this.#serial(async () => {
      await this.#settle();
      const want = options.step ?? 'latest';
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
          loaded = await this.#load(step);
        } catch (err) {
          if (!isXError(err, 'INTEGRITY')) throw err;
          if (options.allowFallback !== true || want !== 'latest') {
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

/**
 * Sets each component's state from a loaded checkpoint. Tensors present in both the current and
 * the saved state are checked first (dtype and shape, naming the leaf path); each component's
 * `setState` validates the rest. If a `setState` fails, the components already set are put back
 * to their previous state.
 */
export async function applyState(
  components: ComponentMap,
  loaded: LoadedCheckpoint,
): Promise<void> {
  const names = Object.keys(components).sort();
  const before: Record<string, State> = {};
  for (const name of names) {
    if (!(name in loaded.state)) {
      throw new XError(
        'STATE_MISMATCH',
        `${loaded.dir}: ${name}: missing (the checkpoint holds ${Object.keys(loaded.state).sort().join(', ') || 'nothing'})`,
        { details: { path: name } },
      );
    }
    const current = await (components[name] as ComponentMap[string]).getState();
    before[name] = current;
    const bad = tensorMismatch(current, loaded.state[name] as State, name);
    if (bad !== undefined) {
      throw new XError('STATE_MISMATCH', `${loaded.dir}: ${bad.path}: ${bad.reason}`, {
        details: { path: bad.path },
      });
    }
  }
  const done: string[] = [];
  try {
    for (const name of names) {
      try {
        await (components[name] as ComponentMap[string]).setState(loaded.state[name] as State);
      } catch (err) {
        if (isXError(err)) {
          throw new XError(err.code, `${loaded.dir}: ${name}/${err.message}`, {
            cause: err,
            details: err.details,
          });
        }
        throw err;
      }
      done.push(name);
    }
  } catch (err) {
    for (const name of done)
      await (components[name] as ComponentMap[string]).setState(before[name] as State);
    throw err;
  }
}

function tensorMismatch(
  current: State,
  saved: State,
  path: string,
): { path: string; reason: string } | undefined {
  if (isTensorData(current)) {
    if (!isTensorData(saved))
      return {
        path,
        reason: `expected tensor ${current.dtype}[${current.shape.join(', ')}], got ${saved === null ? 'null' : Array.isArray(saved) ? 'array' : typeof saved}`,
      };
    if (saved.dtype !== current.dtype)
      return { path, reason: `expected dtype ${current.dtype}, got ${saved.dtype}` };
    if (
      saved.shape.length !== current.shape.length ||
      saved.shape.some((d, i) => d !== current.shape[i])
    ) {
      return {
        path,
        reason: `expected shape [${current.shape.join(', ')}], got [${saved.shape.join(', ')}]`,
      };
    }
    return undefined;
  }
  if (
    current === null ||
    typeof current !== 'object' ||
    saved === null ||
    typeof saved !== 'object' ||
    isTensorData(saved)
  )
    return undefined;
  const cur = current as Record<string, State>;
  const sav = saved as Record<string, State>;
  for (const k of Object.keys(cur).sort()) {
    if (!Object.prototype.hasOwnProperty.call(sav, k)) continue;
    const r = tensorMismatch(cur[k] as State, sav[k] as State, `${path}/${k}`);
    if (r !== undefined) return r;
  }
  return undefined;
}
