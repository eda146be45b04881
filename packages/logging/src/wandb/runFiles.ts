import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XError } from '@x/core';

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
}

/** `wandb/progress.json`: how far uploads got (file_stream offsets are idempotent). */
export interface Progress {
  historyAcked: number;
  outputAcked: number;
  filesAcked: number;
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

/** Writes a text file atomically without blocking. */
export async function writeTextAtomic(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `${name}.${process.pid}.tmp`);
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
  completeSent: false,
};
