import { closeSync, openSync, writeSync } from 'node:fs';
import zlib from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';
import { deflateChunks, type DeflateSettings } from './parallelDeflate.js';

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
 * deflate stream whose 4 MiB segments are compressed in parallel on worker threads (see
 * {@link deflateChunks}) and written as they complete, so memory stays bounded. `level` 0
 * stores entries uncompressed.
 */
export async function writeZip(
  path: string,
  entries: readonly { name: string; bytes: ByteSource }[],
  compression: DeflateSettings,
): Promise<void> {
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
        compression: compression.level > 0 ? 8 : 0,
      };
      zip.add(entry);
      const emit = (c: Uint8Array, final: boolean) =>
        (entry.ondata as (e: null, c: Uint8Array, f: boolean) => void)(null, c, final);
      if (compression.level === 0) {
        for (const c of bytes()) {
          entry.crc = zlib.crc32(c, entry.crc);
          entry.size += c.length;
          emit(c, false);
        }
      } else {
        const { crc, size } = await deflateChunks(bytes(), compression, (c) => emit(c, false));
        entry.crc = crc;
        entry.size = size;
      }
      emit(new Uint8Array(0), true);
    }
    zip.end();
    if (failures[0] !== undefined) throw failures[0];
  } finally {
    closeSync(fd);
  }
}
