import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { versionsReport } from './versions.js';

/** Where a run came from: recorded in `config.yaml`, checkpoint manifests and the W&B config. */
export interface Provenance {
  /** The runner's source tree commit and whether it had uncommitted changes (null without git). */
  git: { commit: string; dirty: boolean } | null;
  /** The command line, credentials in URLs removed. */
  command: string;
  cwd: string;
  host: string;
  startedAt: string;
  /** Node, tfjs and `@x/*` versions. */
  versions: Record<string, string>;
  /** The tensor backend asked for (the manifest records the one that ran). */
  backend: string;
}

const sourceDir = dirname(fileURLToPath(import.meta.url));

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: sourceDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 3000,
    }).trim();
  } catch {
    return undefined;
  }
}

/** Removes `user:password@` from URLs and quotes arguments a shell would split. */
export function commandLine(argv: readonly string[]): string {
  return ['runner', ...argv]
    .map((a) => a.replace(/(\w+:\/\/)[^/@\s]*@/g, '$1'))
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

let cached: { commit: string; dirty: boolean } | null | undefined;

function gitState(): { commit: string; dirty: boolean } | null {
  if (cached !== undefined) return cached;
  const commit = git(['rev-parse', 'HEAD']);
  if (commit === undefined) return (cached = null);
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return (cached = { commit, dirty: status === undefined ? true : status !== '' });
}

/** Collects the provenance of a run started now (git is optional; its absence is `null`). */
export function collectProvenance(
  backend: string,
  argv: readonly string[] = process.argv.slice(2),
): Provenance {
  return {
    git: gitState(),
    command: commandLine(argv),
    cwd: process.env['INIT_CWD'] ?? process.cwd(),
    host: hostname(),
    startedAt: new Date().toISOString(),
    versions: versionsReport(),
    backend,
  };
}
