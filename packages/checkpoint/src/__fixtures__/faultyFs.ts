import { nodeFs, type FsOps } from '../fsOps.js';

/** Where a {@link faultyFs} fails. */
export interface Fault {
  op: 'write' | 'mkdir' | 'rename' | 'sync' | 'open';
  /** errno code of the simulated failure, e.g. `ENOSPC`. */
  code: string;
  /** Only paths containing this text fail. */
  pathIncludes?: string;
  /** Fail after this many bytes were written successfully (write only). */
  afterBytes?: number;
}

function errno(code: string, op: string, path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: simulated failure, ${op} '${path}'`);
  e.code = code;
  e.syscall = op;
  e.path = path;
  return e;
}

/** `nodeFs` with one injected fault; `fault.active = false` turns it off. */
export function faultyFs(fault: Fault & { active?: boolean; freeBytes?: number }): FsOps {
  let written = 0;
  const hits = (path: string) =>
    fault.active !== false &&
    (fault.pathIncludes === undefined || path.includes(fault.pathIncludes));
  return {
    ...nodeFs,
    async open(path, flags) {
      if (fault.op === 'open' && flags === 'wx' && hits(path))
        throw errno(fault.code, 'open', path);
      const f = await nodeFs.open(path, flags);
      return {
        ...f,
        async write(data, position) {
          if (fault.op === 'write' && hits(path)) {
            const room = (fault.afterBytes ?? 0) - written;
            if (room < data.length) {
              if (room > 0) await f.write(data.subarray(0, room), position);
              written += Math.max(room, 0);
              throw errno(fault.code, 'write', path);
            }
            written += data.length;
          }
          await f.write(data, position);
        },
        async sync() {
          if (fault.op === 'sync' && hits(path)) throw errno(fault.code, 'fsync', path);
          await f.sync();
        },
      };
    },
    async mkdir(path) {
      if (fault.op === 'mkdir' && hits(path)) throw errno(fault.code, 'mkdir', path);
      await nodeFs.mkdir(path);
    },
    async rename(from, to) {
      if (fault.op === 'rename' && hits(to)) throw errno(fault.code, 'rename', to);
      await nodeFs.rename(from, to);
    },
    freeBytes: async (path) => fault.freeBytes ?? nodeFs.freeBytes(path),
  };
}
