import { availableParallelism } from 'node:os';
import zlib from 'node:zlib';

/** Bytes of one independently deflated segment of an entry. */
export const SEGMENT_BYTES = 4 << 20;

/**
 * Deflate settings of an entry. With `adaptive`, each segment is coded Huffman-only when it
 * shows no runs (noisy floats: as small as with matching, and faster) and with `strategy`
 * otherwise.
 */
export interface DeflateSettings {
  level: number;
  strategy?: number;
  adaptive?: boolean;
}

const C = zlib.constants;
const IN_FLIGHT = Math.max(3, Math.min(5, availableParallelism() + 1));
const spare: Uint8Array[] = [];

function hasRuns(v: Uint8Array): boolean {
  const step = Math.max(1, Math.floor(v.length / 65536));
  let same = 0;
  let n = 0;
  for (let i = step; i < v.length; i += step) {
    n++;
    if (v[i] === v[i - 1]) same++;
  }
  return same * 8 >= n;
}

function options(s: DeflateSettings, segment: Uint8Array): zlib.ZlibOptions {
  const strategy = s.adaptive === true && !hasRuns(segment) ? C.Z_HUFFMAN_ONLY : s.strategy;
  return {
    level: s.level,
    memLevel: 9,
    finishFlush: C.Z_SYNC_FLUSH,
    chunkSize: SEGMENT_BYTES + (64 << 10),
    ...(strategy === undefined ? {} : { strategy }),
  };
}

function deflateSegment(segment: Uint8Array, length: number, s: DeflateSettings): Promise<Buffer> {
  const v = segment.subarray(0, length);
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(v, options(s, v), (err, out) => {
      if (spare.length <= IN_FLIGHT) spare.push(segment);
      if (err) reject(err);
      else resolve(out);
    });
  });
}

/**
 * Deflates an entry's bytes (given in order as chunks of any size) as one raw deflate stream:
 * they are gathered into segments of {@link SEGMENT_BYTES} (reused buffers), each compressed by
 * Node's zlib on the thread pool with a sync flush so that the segments join into one stream,
 * several at once; an empty final block ends the stream. Compressed bytes reach `emit` in order
 * (awaited, for back-pressure) while later segments are still compressing, so at most `IN_FLIGHT + 1` segments are held at
 * once. Returns the entry's CRC-32 and size.
 */
export async function deflateChunks(
  chunks: Iterable<Uint8Array>,
  settings: DeflateSettings,
  emit: (bytes: Uint8Array) => void | Promise<void>,
): Promise<{ crc: number; size: number }> {
  const inFlight: Promise<Buffer>[] = [];
  let crc = 0;
  let size = 0;
  let segment: Uint8Array | undefined;
  let fill = 0;
  const dispatch = async () => {
    inFlight.push(deflateSegment(segment as Uint8Array, fill, settings));
    segment = undefined;
    fill = 0;
    while (inFlight.length >= IN_FLIGHT) await emit(await (inFlight.shift() as Promise<Buffer>));
  };
  try {
    for (const chunk of chunks) {
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      for (let off = 0; off < chunk.length;) {
        segment ??= spare.pop() ?? new Uint8Array(SEGMENT_BYTES);
        const n = Math.min(SEGMENT_BYTES - fill, chunk.length - off);
        segment.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === SEGMENT_BYTES) await dispatch();
      }
    }
    if (fill > 0) await dispatch();
    while (inFlight.length > 0) await emit(await (inFlight.shift() as Promise<Buffer>));
  } catch (err) {
    await Promise.allSettled(inFlight);
    throw err;
  }
  await emit(zlib.deflateRawSync(new Uint8Array(0), { level: settings.level }));
  return { crc, size };
}
