import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runnerRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsxLoader = import.meta.resolve('tsx');

/** Result of running the real runner CLI in a child process. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `runner <args>` as a real child process (as `pnpm runner` does) and waits for it. */
export function runRunner(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): RunResult {
  const r = spawnSync(
    process.execPath,
    ['--conditions=@x/source', '--import', tsxLoader, join(runnerRoot, 'src', 'bin.ts'), ...args],
    {
      cwd: options.cwd ?? runnerRoot,
      env: { ...process.env, INIT_CWD: options.cwd ?? runnerRoot, ...options.env },
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 300_000,
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `runner <args>` as a real child process without waiting (for signal tests). */
export function spawnRunner(args: string[], options: { cwd: string }): ChildProcess {
  return spawn(
    process.execPath,
    ['--conditions=@x/source', '--import', tsxLoader, join(runnerRoot, 'src', 'bin.ts'), ...args],
    {
      cwd: runnerRoot,
      env: { ...process.env, INIT_CWD: options.cwd },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}
