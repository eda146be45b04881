import { closeSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';

const deflateRaw = promisify(zlib.deflateRaw);
const CHUNK = 4 * 1024 * 1024;
const IN_FLIGHT = 4;

/** A source of an entry's bytes, produced in order (header first, then data). */
export type ByteSource = () => Iterable<Uint8Array>;

function* rechunk(src: Iterable<Uint8Array>): Generator<Uint8Array> {
  let buf: Uint8Array[] = [];
  let n = 0;
  for (const c of src) {
    let off = 0;
    while (off < c.length) {
      const take = Math.min(CHUNK - n, c.length - off);
      buf.push(c.subarray(off, off + take));
      n += take;
      off += take;
      if (n === CHUNK) {
        yield buf.length === 1 ? (buf[0] as Uint8Array) : Buffer.concat(buf);
        buf = [];
        n = 0;
      }
    }
  }
  if (n > 0) yield buf.length === 1 ? (buf[0] as Uint8Array) : Buffer.concat(buf);
}

/** How `.npz` entries are compressed. */
export type NpzCompression = 'fast' | 'small' | 'none';

/** zlib settings of each {@link NpzCompression}. */
export function compressionSettings(c: NpzCompression): { level: number; strategy?: number } {
  switch (c) {
    case 'fast':
      return { level: 1, strategy: zlib.constants.Z_RLE };
    case 'small':
      return { level: 6 };
    case 'none':
      return { level: 0 };
  }
}

/**
 * Writes a zip archive (the `.npz` container) with fflate's streaming `Zip`. Entries are
 * deflated in 4 MiB independent blocks by zlib on the thread pool (up to 4 at once) and joined
 * into one deflate stream (sync-flushed blocks), so memory stays bounded and large arrays
 * compress on several cores. `level` 0 stores entries uncompressed.
 */
export async function writeZip(
  path: string,
  entries: readonly { name: string; bytes: ByteSource }[],
  compression: { level: number; strategy?: number },
): Promise<void> {
  const { level, strategy } = compression;
  const fd = openSync(path, 'w');
  const failures: Error[] = [];
  const zip = new Zip((err, chunk) => {
    if (err) failures.push(err);
    else if (chunk.length > 0) writeSync(fd, chunk);
  });
  try {
    for (const { name, bytes } of entries) {
      const entry: ZipInputFile = {
        filename: name,
        size: 0,
        crc: 0,
        compression: level > 0 ? 8 : 0,
      };
      zip.add(entry);
      const emit = (c: Uint8Array, final: boolean) =>
        (entry.ondata as (e: null, c: Uint8Array, f: boolean) => void)(null, c, final);
      const chunks = rechunk(bytes());
      if (level === 0) {
        for (const c of chunks) {
          entry.crc = zlib.crc32(c, entry.crc);
          entry.size += c.length;
          emit(c, false);
        }
        emit(new Uint8Array(0), true);
        continue;
      }
      const pending: Promise<Buffer>[] = [];
      let next = chunks.next();
      const flush = zlib.constants.Z_SYNC_FLUSH;
      while (!next.done || pending.length > 0) {
        while (!next.done && pending.length < IN_FLIGHT) {
          const c = next.value;
          entry.crc = zlib.crc32(c, entry.crc);
          entry.size += c.length;
          pending.push(deflateRaw(c, { level, strategy, finishFlush: flush }));
          next = chunks.next();
        }
        emit(await (pending.shift() as Promise<Buffer>), false);
      }
      emit(
        await deflateRaw(new Uint8Array(0), { level, finishFlush: zlib.constants.Z_FINISH }),
        true,
      );
    }
    zip.end();
    if (failures[0] !== undefined) throw failures[0];
  } finally {
    closeSync(fd);
  }
}
