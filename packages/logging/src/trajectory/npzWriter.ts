import { open } from 'node:fs/promises';
import zlib from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';
import { deflateChunks, type DeflateSettings } from './parallelDeflate.js';

const QUEUED_BYTES = 16 << 20;

/** A source of an entry's bytes, produced in order (header first, then data). */
export type ByteSource = () => Iterable<Uint8Array>;

/** How `.npz` entries are compressed. */
export type NpzCompression = 'fast' | 'small' | 'none';

/** zlib settings of each {@link NpzCompression}. */
export function compressionSettings(c: NpzCompression): DeflateSettings {
  switch (c) {
    case 'fast':
      return { level: 1, strategy: zlib.constants.Z_RLE, adaptive: true };
    case 'small':
      return { level: 6 };
    case 'none':
      return { level: 0 };
  }
}

/**
 * Writes a zip archive (the `.npz` container) with fflate's streaming `Zip`. Each entry is one
 * deflate stream whose 4 MiB segments are compressed in parallel on the zlib thread pool (see
 * {@link deflateChunks}) and written on the thread pool as they complete (at most 16 MiB
 * queued), so memory stays bounded. `level` 0 stores entries uncompressed.
 */
export async function writeZip(
  path: string,
  entries: readonly { name: string; bytes: ByteSource }[],
  compression: DeflateSettings,
): Promise<void> {
  const file = await open(path, 'w');
  const failures: unknown[] = [];
  let position = 0;
  let queued = 0;
  let written: Promise<void> = Promise.resolve();
  const zip = new Zip((err, chunk) => {
    if (err) failures.push(err);
    if (err || chunk.length === 0) return;
    const at = position;
    position += chunk.length;
    queued += chunk.length;
    written = written.then(async () => {
      for (let done = 0; done < chunk.length;) {
        const { bytesWritten } = await file.write(chunk, done, chunk.length - done, at + done);
        done += bytesWritten;
      }
      queued -= chunk.length;
    });
    written.catch((e: unknown) => failures.push(e));
  });
  // Writes run on the thread pool behind the compression; at most QUEUED_BYTES wait.
  const backPressure = () => (queued > QUEUED_BYTES ? written : undefined);
  try {
    for (const { name, bytes } of entries) {
      const entry: ZipInputFile = {
        filename: name,
        size: 0,
        crc: 0,
        compression: compression.level > 0 ? 8 : 0,
      };
      zip.add(entry);
      const emit = (c: Uint8Array, final: boolean) => {
        (entry.ondata as (e: null, c: Uint8Array, f: boolean) => void)(null, c, final);
        return backPressure();
      };
      if (compression.level === 0) {
        for (const c of bytes()) {
          entry.crc = zlib.crc32(c, entry.crc);
          entry.size += c.length;
          await emit(c, false);
        }
      } else {
        const { crc, size } = await deflateChunks(bytes(), compression, (c) => emit(c, false));
        entry.crc = crc;
        entry.size = size;
      }
      await emit(new Uint8Array(0), true);
      if (failures.length > 0) break;
    }
    zip.end();
    await written.catch(() => undefined);
    if (failures.length > 0) throw failures[0];
  } finally {
    await written.catch(() => undefined);
    await file.close();
  }
}
