import { readFileSync } from 'node:fs';
import { XError } from '@x/core';
import type { HistogramRecord } from '../types.js';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter, decodeProto, type ProtoField } from './protobuf.js';

/** Frames `data` as one TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Frames many payloads into one buffer of consecutive TFRecords. */
export function frameRecords(payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of payloads) total += p.length + 16;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const p of payloads) {
    dv.setBigUint64(o, BigInt(p.length), true);
    dv.setUint32(o + 8, maskedCrc32c(out.subarray(o, o + 8)), true);
    out.set(p, o + 12);
    dv.setUint32(o + 12 + p.length, maskedCrc32c(p), true);
    o += p.length + 16;
  }
  return out;
}

/** Fields of an `Event` to encode. */
export interface EventFields {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  /** An encoded `Summary` message. */
  summary?: Uint8Array;
  /** Writes `session_log { status: START }` (TensorBoard then drops orphaned later steps). */
  sessionStart?: boolean;
}

/** Encodes an `Event` message (wall_time=1, step=2, file_version=3, summary=5, session_log=7). */
export function encodeEvent(e: EventFields): Uint8Array {
  const w = new ProtoWriter().double(1, e.wallTime);
  if (e.step !== undefined && e.step !== 0) w.int(2, e.step);
  if (e.fileVersion !== undefined) w.string(3, e.fileVersion);
  if (e.summary !== undefined) w.bytes(5, e.summary);
  if (e.sessionStart === true) w.message(7, (s) => s.int(1, 1));
  return w.finish();
}

const tagCache = new Map<string, Uint8Array>();

function encodedTag(tag: string): Uint8Array {
  let b = tagCache.get(tag);
  if (b === undefined) {
    b = new ProtoWriter().string(1, tag).finish();
    if (tagCache.size < 100_000) tagCache.set(tag, b);
  }
  return b;
}

/** A `Summary` of scalar values (`simple_value`, float32). */
export function scalarSummary(values: Readonly<Record<string, number>>): Uint8Array {
  const w = new ProtoWriter();
  for (const tag in values) w.scalarValue(encodedTag(tag), values[tag] as number);
  return w.finish();
}

/** A `Summary` with one text value (DT_STRING tensor of shape [1], plugin `text`). */
export function textSummary(tag: string, text: string): Uint8Array {
  return new ProtoWriter()
    .message(1, (v) =>
      v
        .string(1, `${tag}/text_summary`)
        .message(8, (t) =>
          t
            .int(1, 7)
            .message(2, (shape) => shape.message(2, (dim) => dim.int(1, 1)))
            .string(8, text),
        )
        .message(9, (meta) => meta.message(1, (p) => p.string(1, 'text'))),
    )
    .finish();
}

/** A `Summary` with one histogram (`HistogramProto`). */
export function histogramSummary(h: HistogramRecord): Uint8Array {
  return new ProtoWriter()
    .message(1, (v) =>
      v
        .string(1, h.name)
        .message(5, (p) =>
          p
            .double(1, h.min)
            .double(2, h.max)
            .double(3, h.num)
            .double(4, h.sum)
            .double(5, h.sumSquares)
            .packedDoubles(6, h.bucketLimits)
            .packedDoubles(7, h.bucketCounts),
        ),
    )
    .finish();
}

/** A decoded summary value. */
export interface DecodedValue {
  tag: string;
  simpleValue?: number;
  text?: string;
  pluginName?: string;
  histogram?: { min: number; max: number; num: number; bucketLimits: number[]; buckets: number[] };
}

/** A decoded `Event`. */
export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sessionLogStatus?: number;
  values: DecodedValue[];
}

const td = new TextDecoder();
const f64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
const f32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
const bytesOf = (f: ProtoField) => f.value as Uint8Array;
function doubles(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: b.byteLength / 8 }, (_, i) => dv.getFloat64(i * 8, true));
}

function decodeValue(buf: Uint8Array): DecodedValue {
  const v: DecodedValue = { tag: '' };
  for (const f of decodeProto(buf)) {
    if (f.field === 1) v.tag = td.decode(bytesOf(f));
    else if (f.field === 2) v.simpleValue = f32(bytesOf(f));
    else if (f.field === 8) {
      for (const t of decodeProto(bytesOf(f))) if (t.field === 8) v.text = td.decode(bytesOf(t));
    } else if (f.field === 9) {
      for (const m of decodeProto(bytesOf(f))) {
        if (m.field !== 1) continue;
        for (const p of decodeProto(bytesOf(m)))
          if (p.field === 1) v.pluginName = td.decode(bytesOf(p));
      }
    } else if (f.field === 5) {
      const h = { min: 0, max: 0, num: 0, bucketLimits: [] as number[], buckets: [] as number[] };
      for (const p of decodeProto(bytesOf(f))) {
        if (p.field === 1) h.min = f64(bytesOf(p));
        else if (p.field === 2) h.max = f64(bytesOf(p));
        else if (p.field === 3) h.num = f64(bytesOf(p));
        else if (p.field === 6) h.bucketLimits = doubles(bytesOf(p));
        else if (p.field === 7) h.buckets = doubles(bytesOf(p));
      }
      v.histogram = h;
    }
  }
  return v;
}

/** Decodes an `Event` message. */
export function decodeEvent(buf: Uint8Array): DecodedEvent {
  const e: DecodedEvent = { wallTime: 0, step: 0, values: [] };
  for (const f of decodeProto(buf)) {
    if (f.field === 1) e.wallTime = f64(bytesOf(f));
    else if (f.field === 2) e.step = Number(BigInt.asIntN(64, f.value as bigint));
    else if (f.field === 3) e.fileVersion = td.decode(bytesOf(f));
    else if (f.field === 5) {
      for (const v of decodeProto(bytesOf(f)))
        if (v.field === 1) e.values.push(decodeValue(bytesOf(v)));
    } else if (f.field === 7) {
      for (const s of decodeProto(bytesOf(f)))
        if (s.field === 1) e.sessionLogStatus = Number(s.value);
    }
  }
  return e;
}

/** Splits TFRecord bytes into record payloads, checking both masked CRCs of every record. */
export function readRecords(bytes: Uint8Array, source = '<bytes>'): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  while (i < bytes.length) {
    if (i + 12 > bytes.length)
      throw new XError('INTEGRITY', `${source}: truncated record header at byte ${i}`);
    const len = Number(dv.getBigUint64(i, true));
    if (dv.getUint32(i + 8, true) !== maskedCrc32c(bytes.subarray(i, i + 8))) {
      throw new XError('INTEGRITY', `${source}: bad length CRC at byte ${i}`);
    }
    if (i + 16 + len > bytes.length)
      throw new XError('INTEGRITY', `${source}: truncated record at byte ${i}`);
    const data = bytes.subarray(i + 12, i + 12 + len);
    if (dv.getUint32(i + 12 + len, true) !== maskedCrc32c(data)) {
      throw new XError('INTEGRITY', `${source}: bad data CRC at byte ${i}`);
    }
    out.push(data);
    i += 16 + len;
  }
  return out;
}

/** Reads and decodes every event of a TensorBoard event file (CRCs checked). */
export function readEventFile(path: string): DecodedEvent[] {
  const bytes = new Uint8Array(readFileSync(path));
  return readRecords(bytes, path).map(decodeEvent);
}
