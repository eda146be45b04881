import type { FsOps } from './fsOps.js';
import type { Manifest } from './manifest.js';
import type { RetentionPolicy } from './retention.js';

/** Options of {@link CheckpointManager}. */
export interface CheckpointManagerOptions {
  /** Which checkpoints to keep (default: all). */
  retention?: RetentionPolicy;
  /** Write in the background: `save` returns once the state is captured (default false). */
  async?: boolean;
  /**
   * Deep-copy `getState()` results before a background write (default true when `async`).
   * Snapshot views are always copied, immutable-marked arrays never.
   */
  copyState?: boolean;
  /** Library and backend versions recorded in every manifest (e.g. `{ tfjs: '4.22.0', backend: 'cpu' }`). */
  versions?: Record<string, string>;
  /** Free space required beyond the checkpoint's estimated size (default 1 MiB). */
  minFreeBytes?: number;
  /** Receives warnings (fallback to an older checkpoint, retention that could not delete). */
  onWarning?: (message: string) => void;
  /**
   * Runs before every save captures the state (e.g. `logger.flush({ durable: true })`, so the
   * logs are durable up to the checkpoint's step before it commits). A throw aborts the save.
   */
  beforeSave?: (step: number) => void | Promise<void>;
  /**
   * Runs after a checkpoint is committed (in place and synced), before retention may delete
   * older ones; e.g. to log it as a W&B artifact. A throw is reported through `onWarning`: the
   * checkpoint stays committed. With `async`, it runs in the background write.
   */
  afterSave?: (
    step: number,
    checkpoint: { path: string; metrics: Record<string, number> },
  ) => void | Promise<void>;
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
  /** The parsed manifest, when it could be read. */
  manifest?: Manifest;
  /** Why the manifest could not be read, when it could not. */
  damaged?: string;
}

/** Options of {@link CheckpointManager.restore}. */
export interface RestoreOptions {
  /** Which checkpoint: a step or `'latest'` (default). */
  step?: number | 'latest';
  /** When the newest checkpoint is damaged, restore the newest valid one and warn (default false). */
  allowFallback?: boolean;
  /**
   * Also recompute the state digest of the restored state and compare it with the manifest's
   * (default false: every file's size and SHA-256 are checked, which catches corruption; the
   * digest, a function of those files, is recomputed only on request, as `verify` does).
   */
  verifyDigest?: boolean;
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
