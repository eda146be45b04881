import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { XError } from '@x/core';

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } catch {
    /* directories cannot be fsynced on every platform */
  } finally {
    closeSync(fd);
  }
}

/**
 * A file written beside its target (`.<name>.tmp-<pid>`) and renamed over it only when complete,
 * so the target is either the previous file or the new one whatever happens (kill -9, disk
 * full, an error). Temporaries left by dead processes are removed when the next one starts.
 */
export class AtomicFile {
  readonly target: string;
  readonly tmp: string;
  #done = false;

  /** With `copy`, the temporary starts as a copy of the existing target (to modify it). */
  constructor(target: string, options: { copy?: boolean } = {}) {
    this.target = target;
    const dir = dirname(target);
    const base = basename(target);
    this.tmp = join(dir, `.${base}.tmp-${process.pid}`);
    try {
      accessSync(dir, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EROFS'
          ? 'read-only file system'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'ENOENT'
              ? 'no such directory'
              : (code ?? String(err));
      throw new XError('INVALID_INPUT', `${target}: cannot write in ${dir}: ${why}`, {
        cause: err,
      });
    }
    const leftover = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)$`);
    try {
      for (const name of readdirSync(dir)) {
        const m = leftover.exec(name);
        if (m !== null && !alive(Number(m[1]))) rmSync(join(dir, name), { force: true });
      }
    } catch {
      /* the directory is checked again when the file is created */
    }
    if (options.copy === true) copyFileSync(target, this.tmp);
  }

  /** Moves the finished temporary over the target (fsyncing both). */
  commit(): void {
    if (this.#done) return;
    this.#done = true;
    fsyncPath(this.tmp);
    renameSync(this.tmp, this.target);
    fsyncPath(dirname(this.target));
  }

  /** Removes the temporary; the target is untouched. */
  discard(): void {
    if (this.#done) return;
    this.#done = true;
    rmSync(this.tmp, { force: true });
  }
}
