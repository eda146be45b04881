import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const repo = join(import.meta.dirname, '..', '..', '..', '..');

/** Runs a TypeScript fixture as a real child process (source condition, tsx), stdout/stderr piped. */
export function spawnTsChild(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--conditions=@x/source', '--import', 'tsx', file, ...args], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
