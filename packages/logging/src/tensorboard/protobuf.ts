/** A minimal protobuf writer (varint, fixed32/64, length-delimited) for TensorBoard's messages. */
export class ProtoWriter {
  #chunks: number[] = [];
  readonly #view = new DataView(new ArrayBuffer(8));

  #varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.#chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.#chunks.push(Number(x));
  }

  #smallVarint(v: number): void {
    if (v < 0 || v > 0x7fffffff) {
      this.#varint(v);
      return;
    }
    while (v >= 0x80) {
      this.#chunks.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.#chunks.push(v);
  }

  #key(field: number, wire: number): void {
    this.#smallVarint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    this.#key(field, 0);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 0x7fffffff)
      this.#smallVarint(v);
    else this.#varint(v);
    return this;
  }

  double(field: number, v: number): this {
    this.#key(field, 1);
    this.#view.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.#chunks.push(this.#view.getUint8(i));
    return this;
  }

  float(field: number, v: number): this {
    this.#key(field, 5);
    this.#view.setFloat32(0, v, true);
    for (let i = 0; i < 4; i++) this.#chunks.push(this.#view.getUint8(i));
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#key(field, 2);
    this.#smallVarint(b.length);
    for (let i = 0; i < b.length; i++) this.#chunks.push(b[i] as number);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
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
    return Uint8Array.from(this.#chunks);
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
