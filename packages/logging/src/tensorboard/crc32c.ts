const TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i] as number;
      t[k * 256 + i] = ((t[prev & 0xff] as number) ^ (prev >>> 8)) >>> 0;
    }
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `bytes` (slicing-by-8); `crc32c("123456789") === 0xe3069283`. */
export function crc32c(bytes: Uint8Array): number {
  const T = TABLES;
  let c = 0xffffffff;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a =
      (c ^
        ((bytes[i] as number) |
          ((bytes[i + 1] as number) << 8) |
          ((bytes[i + 2] as number) << 16) |
          ((bytes[i + 3] as number) << 24))) >>>
      0;
    c =
      ((T[7 * 256 + (a & 0xff)] as number) ^
        (T[6 * 256 + ((a >>> 8) & 0xff)] as number) ^
        (T[5 * 256 + ((a >>> 16) & 0xff)] as number) ^
        (T[4 * 256 + (a >>> 24)] as number) ^
        (T[3 * 256 + (bytes[i + 4] as number)] as number) ^
        (T[2 * 256 + (bytes[i + 5] as number)] as number) ^
        (T[256 + (bytes[i + 6] as number)] as number) ^
        (T[bytes[i + 7] as number] as number)) >>>
      0;
  }
  for (; i < n; i++) c = (T[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC-32C: `((crc >>> 15) | (crc << 17)) + 0xa282ead8`. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
