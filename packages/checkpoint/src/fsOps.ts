import { promises as fsp } from 'node:fs';

/** An open file as used by the checkpoint writer and reader. */
export interface FileLike {
  write(data: Uint8Array, position: number): Promise<void>;
  read(into: Uint8Array, position: number): Promise<number>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system operations the checkpoint manager uses. The default is `node:fs`; tests and
 * special storage inject their own (e.g. to simulate a full disk or a denied permission).
 */
export interface FsOps {
  open(path: string, flags: 'r' | 'wx'): Promise<FileLike>;
  /** Creates a directory and missing parents; an existing directory is fine. */
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  size(path: string): Promise<number>;
  /** Bytes available to this process on the file system holding `path`. */
  freeBytes(path: string): Promise<number>;
  /** Flushes a directory entry (after creating or renaming inside it). */
  syncDir(path: string): Promise<void>;
}

async function writeAll(h: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await h.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

async function readFull(h: fsp.FileHandle, into: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await h.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** The `node:fs` implementation of {@link FsOps}. */
export const nodeFs: FsOps = {
  async open(path, flags) {
    const h = await fsp.open(path, flags, 0o644);
    return {
      write: (data, position) => writeAll(h, data, position),
      read: (into, position) => readFull(h, into, position),
      sync: () => h.sync(),
      close: () => h.close(),
    };
  },
  async mkdir(path) {
    try {
      await fsp.mkdir(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') await fsp.mkdir(path, { recursive: true });
      else if (code !== 'EEXIST' || !(await fsp.stat(path)).isDirectory()) throw err;
    }
  },
  rename: (from, to) => fsp.rename(from, to),
  rm: (path) => fsp.rm(path, { recursive: true, force: true }),
  readdir: (path) => fsp.readdir(path),
  async size(path) {
    return (await fsp.stat(path)).size;
  },
  async freeBytes(path) {
    const s = await fsp.statfs(path);
    return s.bavail * s.bsize;
  },
  async syncDir(path) {
    const h = await fsp.open(path, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
};
