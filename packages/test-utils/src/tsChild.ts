import { spawn, spawnSync, type ChildProcessByStdio, type SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** The workspace root (children run from it unless told otherwise). */
export const repoRoot = join(import.meta.dirname, '..', '..', '..');

/** The tsx ESM loader as a file URL, so `--import` works from any working directory. */
export const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Node arguments that run a TypeScript file of the workspace (`@x/source` condition, tsx). */
export function tsArgs(file: string, args: readonly string[] = []): string[] {
  return ['--conditions=@x/source', '--import', tsxLoader, file, ...args];
}

/** Node arguments that evaluate an ES module script that may import TypeScript files. */
export function tsEvalArgs(script: string): string[] {
  return ['--conditions=@x/source', '--import', tsxLoader, '--input-type=module', '-e', script];
}

/** What a finished child printed and how it ended. */
export interface ChildResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runTs} and {@link evalTs}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function runNode(args: string[], options: RunOptions): ChildResult {
  const r = spawnSync(process.execPath, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a TypeScript file as a real child process with this Node and waits for it. */
export function runTs(file: string, args: readonly string[] = [], options: RunOptions = {}) {
  return runNode(tsArgs(file, args), options);
}

/** Evaluates an ES module script (which may import `.ts` files) in a real child process. */
export function evalTs(script: string, options: RunOptions = {}): ChildResult {
  return runNode(tsEvalArgs(script), options);
}

/** Starts a TypeScript file as a real child process (stdin ignored, stdout/stderr piped). */
export function spawnTs(
  file: string,
  args: readonly string[] = [],
  options: Omit<SpawnOptions, 'stdio'> = {},
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, tsArgs(file, args), {
    cwd: repoRoot,
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
