import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XError } from '@x/core';
import type { RunInfo } from '../types.js';
import { wandbConfigJson } from './api.js';
import { redact } from './redact.js';
import type { ResumeMode, WandbSettings } from './settings.js';

/** `wandb/run.json`: what is needed to create or resume the W&B run later (never the key). */
export interface RunRecord {
  version: 1;
  runId: string;
  entity: string | null;
  project: string;
  displayName?: string;
  group?: string;
  jobType?: string;
  notes?: string;
  tags?: string[];
  /** JSON string of the config in W&B's `{"key": {"value": …}}` form. */
  config: string;
  baseUrl: string;
  historyBase: number;
  outputBase: number;
  /** Unix seconds when the run first started. */
  startedAt: number;
  /** W&B's `resume` mode the run was logged with (`runner wandb sync` applies it). */
  resume?: ResumeMode;
  /** Global index of `events.jsonl`'s first line (a run resumed from another directory). */
  eventsBase?: number;
  /** Set once this directory created (or resumed) the run on the server. */
  onServer?: boolean;
}

/** `wandb/progress.json`: how far uploads got (file_stream offsets are idempotent). */
export interface Progress {
  historyAcked: number;
  outputAcked: number;
  filesAcked: number;
  /** System-metrics lines acknowledged (`wandb-events.jsonl`). */
  eventsAcked: number;
  completeSent: boolean;
}

/** `wandb/exit.json`: how the run ended. */
export interface ExitRecord {
  exitCode: number;
  preempting: boolean;
  time: number;
}

/** File names inside the W&B directory. */
export const FILES = {
  run: 'run.json',
  progress: 'progress.json',
  exit: 'exit.json',
  history: 'history.jsonl',
  output: 'output.log',
  files: 'files.jsonl',
  summary: 'summary.json',
  events: 'events.jsonl',
} as const;

/** Writes a file atomically (temp file + rename). */
export function writeJsonSync(dir: string, name: string, value: unknown): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${name}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  renameSync(tmp, join(dir, name));
}

/** Writes a text file atomically (temp file + rename). */
export function writeTextSync(dir: string, name: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

let tmpCounter = 0;

/**
 * Writes a text file atomically without blocking. Each call has its own temporary name, so
 * overlapping writes (the upload loop and a durable flush) never rename each other's file.
 */
export async function writeTextAtomic(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `${name}.${process.pid}.${++tmpCounter}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, name));
}

/** Reads a JSON file of the W&B directory, or `undefined` when it does not exist. */
export function readJson<T>(dir: string, name: string): T | undefined {
  const file = join(dir, name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new XError('INVALID_INPUT', `${file}: not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** The W&B directory of a run directory, or the directory itself if it holds `run.json`. */
export function resolveWandbDir(dir: string): string {
  if (existsSync(join(dir, FILES.run))) return dir;
  const inner = join(dir, 'wandb');
  if (existsSync(join(inner, FILES.run))) return inner;
  throw new XError(
    'NOT_FOUND',
    `${dir}: no W&B run here (expected ${join(inner, FILES.run)}); was the run logged with WANDB_MODE=offline or online?`,
  );
}

export const EMPTY_PROGRESS: Progress = {
  historyAcked: 0,
  outputAcked: 0,
  filesAcked: 0,
  eventsAcked: 0,
  completeSent: false,
};

function newRunId(seed: string): string {
  const h = createHash('sha256')
    .update(`${seed}\0${process.pid}\0${process.hrtime.bigint()}\0${Date.now()}`)
    .digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  for (let i = 0; i < 8; i++) id += alphabet[(h[i] as number) % alphabet.length];
  return id;
}

/**
 * The run record of a starting sink: a resumed run keeps the id of its checkpointed state or of
 * `run.json`; a new run takes `WANDB_RUN_ID` or a fresh id, and refuses a directory that belongs
 * to another run.
 */
export function makeRunRecord(o: {
  dir: string;
  run: RunInfo;
  settings: WandbSettings;
  resumed: boolean;
  stateRunId: string | undefined;
}): RunRecord {
  const { dir, run, settings: s, resumed } = o;
  const existing = readJson<RunRecord>(dir, FILES.run);
  // `WANDB_RESUME=auto` restarts in the same directory continue the run recorded there.
  const runId =
    o.stateRunId ??
    (resumed ? existing?.runId : undefined) ??
    s.runId ??
    (s.resume === 'auto' ? existing?.runId : undefined) ??
    newRunId(run.runDir);
  const record: RunRecord = {
    version: 1,
    runId,
    entity: s.entity ?? (existing?.runId === runId ? existing.entity : null),
    project: s.project ?? existing?.project ?? run.pipeline,
    displayName: s.name,
    group: s.group,
    jobType: s.jobType,
    notes: s.notes,
    tags: s.tags,
    config: redact(wandbConfigJson(run.config), s.apiKey),
    baseUrl: s.baseUrl,
    historyBase: existing?.runId === runId ? existing.historyBase : 0,
    outputBase: existing?.runId === runId ? existing.outputBase : 0,
    startedAt: existing?.runId === runId ? existing.startedAt : Date.now() / 1000,
    ...(s.resume === undefined ? {} : { resume: s.resume }),
    ...(existing?.runId === runId && existing.onServer === true ? { onServer: true } : {}),
    ...(existing?.runId === runId && existing.eventsBase !== undefined
      ? { eventsBase: existing.eventsBase }
      : {}),
  };
  if (existing !== undefined && existing.runId !== runId && !resumed) {
    throw new XError(
      'INVALID_INPUT',
      `${join(dir, FILES.run)} belongs to W&B run ${existing.runId}; a new run cannot reuse ${dir}`,
    );
  }
  return record;
}
