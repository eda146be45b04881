const encoder = new TextEncoder();

/** A minimal protobuf writer (varint, fixed32/64, length-delimited) for TensorBoard's messages. */
export class ProtoWriter {
  #buf = new Uint8Array(256);
  #dv = new DataView(this.#buf.buffer);
  #n = 0;

  #reserve(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
    this.#dv = new DataView(next.buffer);
  }

  #varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v <= 0x7fffffff) {
      this.#reserve(5);
      let x = v;
      while (x >= 0x80) {
        this.#buf[this.#n++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.#buf[this.#n++] = x;
      return;
    }
    this.#reserve(10);
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.#buf[this.#n++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.#buf[this.#n++] = Number(x);
  }

  int(field: number, v: number | bigint): this {
    this.#varint(field << 3);
    this.#varint(v);
    return this;
  }

  double(field: number, v: number): this {
    this.#varint((field << 3) | 1);
    this.#reserve(8);
    this.#dv.setFloat64(this.#n, v, true);
    this.#n += 8;
    return this;
  }

  float(field: number, v: number): this {
    this.#varint((field << 3) | 5);
    this.#reserve(4);
    this.#dv.setFloat32(this.#n, v, true);
    this.#n += 4;
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#varint((field << 3) | 2);
    this.#varint(b.length);
    this.raw(b);
    return this;
  }

  /** Appends already-encoded bytes (e.g. a cached field). */
  raw(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
    return this;
  }

  /** A `Summary.value` entry `{tag, simple_value}` from a pre-encoded tag field. */
  scalarValue(tagField: Uint8Array, v: number): this {
    this.#varint(0x0a);
    this.#varint(tagField.length + 5);
    this.raw(tagField);
    this.#reserve(5);
    this.#buf[this.#n++] = 0x15;
    this.#dv.setFloat32(this.#n, v, true);
    this.#n += 4;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, encoder.encode(s));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytes(field, w.finish());
  }

  packedDoubles(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat64(i * 8, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#n);
  }
}

/** One decoded protobuf field: varints as bigint, fixed64/32 as raw bytes, length-delimited as bytes. */
export interface ProtoField {
  field: number;
  wire: number;
  value: bigint | Uint8Array;
}

/** Decodes one protobuf message into its fields (no schema). Throws on truncated input. */
export function decodeProto(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let i = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++] as number;
      x |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return x;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (i + n > buf.length) throw new Error('truncated fixed field');
      value = buf.subarray(i, i + n);
      i += n;
    } else if (wire === 2) {
      const n = Number(varint());
      if (i + n > buf.length) throw new Error('truncated bytes field');
      value = buf.subarray(i, i + n);
      i += n;
    } else throw new Error(`unsupported wire type ${wire}`);
    out.push({ field, wire, value });
  }
  return out;
}
