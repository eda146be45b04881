import type { MetricRow } from '../types.js';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';

const tagFields = new Map<string, Uint8Array>();

/** The encoded `Summary.Value.tag` field (1) of `tag`, cached. */
function tagField(tag: string): Uint8Array {
  let b = tagFields.get(tag);
  if (b === undefined) {
    b = new ProtoWriter().string(1, tag).finish();
    if (tagFields.size < 100_000) tagFields.set(tag, b);
  }
  return b;
}

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, o: number, v: number): number {
  while (v >= 0x80) {
    out[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/**
 * Consecutive TFRecords, one `Event {wall_time, step, summary {value {tag, simple_value}…}}` per
 * row, encoded in one pass into one buffer: the same bytes as `frameRecords` of `encodeEvent`
 * with a `scalarSummary` per row, without a buffer per message.
 */
export function scalarEventRecords(rows: readonly MetricRow[]): Uint8Array {
  const summaryLens = new Array<number>(rows.length);
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as MetricRow;
    let summary = 0;
    for (const tag in row.values) {
      const t = tagField(tag).length;
      summary += 1 + varintLength(t + 5) + t + 5;
    }
    summaryLens[r] = summary;
    const step = row.step !== 0 ? 1 + varintLength(row.step) : 0;
    total += 16 + 9 + step + 1 + varintLength(summary) + summary;
  }
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as MetricRow;
    const summary = summaryLens[r] as number;
    const start = o;
    o += 12;
    out[o++] = 0x09; // wall_time (1), double
    dv.setFloat64(o, row.time, true);
    o += 8;
    if (row.step !== 0) {
      out[o++] = 0x10; // step (2), varint
      o = putVarint(out, o, row.step);
    }
    out[o++] = 0x2a; // summary (5), length-delimited
    o = putVarint(out, o, summary);
    for (const tag in row.values) {
      const t = tagField(tag);
      out[o++] = 0x0a; // Summary.value (1)
      o = putVarint(out, o, t.length + 5);
      out.set(t, o);
      o += t.length;
      out[o++] = 0x15; // simple_value (2), float
      dv.setFloat32(o, row.values[tag] as number, true);
      o += 4;
    }
    const len = o - start - 12;
    dv.setBigUint64(start, BigInt(len), true);
    dv.setUint32(start + 8, maskedCrc32c(out.subarray(start, start + 8)), true);
    dv.setUint32(o, maskedCrc32c(out.subarray(start + 12, o)), true);
    o += 4;
  }
  return out;
}
