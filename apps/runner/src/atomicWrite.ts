import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temporary path beside `target` that a writer fills before renaming it into place. */
export function tempBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
}

/**
 * Writes `data` beside `target`, syncs it and renames it over `target`: a reader sees the old
 * file or the new one, never a part; an existing file survives a crash.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const tmp = tempBeside(target);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let at = 0;
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs `write(tmp)` on a temporary path beside `target` and renames the result over `target`
 * when it returns; when it throws (or the run is interrupted), the temporary file is removed and
 * `target` is untouched.
 */
export async function atomicOutput<T>(
  target: string,
  write: (tmp: string) => Promise<T>,
): Promise<T> {
  const tmp = tempBeside(target);
  rmSync(tmp, { force: true, recursive: true });
  try {
    const r = await write(tmp);
    renameSync(tmp, target);
    return r;
  } catch (err) {
    rmSync(tmp, { force: true, recursive: true });
    throw err;
  }
}
