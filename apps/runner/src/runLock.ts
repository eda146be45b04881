import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { XError } from '@x/core';

/** What `<run-dir>/.lock` records about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

/** A held run-directory lock. */
export interface RunLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock (only while it is still this process's). Idempotent. */
  release(): void;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return undefined;
    return {
      pid: h.pid,
      host: h.host,
      startedAt: String(h.startedAt ?? '?'),
      command: String(h.command ?? '?'),
    };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const held = new Set<RunLock>();
let exitHook = false;

/**
 * Takes `<runDir>/.lock` for this process: one writer per run directory. The lock is created
 * whole (written beside it, then hard-linked into place), so it is never seen half-written. A lock
 * whose holder ran on this host and is no longer alive is stale and taken over; a live holder (or
 * one on another host) is refused with `INVALID_INPUT` naming it. Released by `release()` or at
 * process exit.
 */
export function acquireRunLock(runDir: string, command: string): RunLock {
  const path = join(runDir, '.lock');
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command,
  };
  const tmp = `${path}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(holder)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
      }
      const other = readHolder(path);
      const stale = other === undefined || (other.host === holder.host && !alive(other.pid));
      if (!stale) {
        const who = `pid ${other.pid} on ${other.host} since ${other.startedAt} (${other.command})`;
        throw new XError(
          'INVALID_INPUT',
          `${runDir} is in use by ${who}; one process writes a run directory at a time — wait for it to finish or choose another directory (remove ${path} only if that process is gone)`,
        );
      }
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  const lock: RunLock = {
    path,
    holder,
    release() {
      if (!held.delete(lock)) return;
      const now = readHolder(path);
      if (
        now?.pid === holder.pid &&
        now.host === holder.host &&
        now.startedAt === holder.startedAt
      ) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
    },
  };
  held.add(lock);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const l of [...held]) l.release();
    });
  }
  return lock;
}
