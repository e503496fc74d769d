/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial), guarding payloads against corruption in transit.
 */

// Slicing-by-8: table k holds the CRC of a byte followed by k zero bytes, so eight bytes fold
// into the CRC with eight lookups and no per-byte dependency chain (≈ 4× the byte-wise loop).
let tables: Uint32Array | undefined;

/** A CRC-32 of a whole array, e.g. Node's `zlib.crc32` (same polynomial, same result). */
export type Crc32Function = (bytes: Uint8Array) => number;

let native: Crc32Function | null = null;

/**
 * Lets {@link crc32} hand long inputs to a native implementation (the server passes Node's
 * `zlib.crc32`, several times faster); null goes back to the portable one. The function is
 * checked on a known value first and ignored when it disagrees. Returns whether it is in use.
 *
 * @example
 * ```ts
 * const zlib = await import('node:zlib');
 * if (typeof zlib.crc32 === 'function') useNativeCrc32(zlib.crc32);
 * ```
 */
export function useNativeCrc32(fn: Crc32Function | null): boolean {
  native = null;
  try {
    // '123456789' → 0xcbf43926, the catalogue check value of CRC-32/ISO-HDLC.
    if (fn !== null && fn(Uint8Array.of(49, 50, 51, 52, 53, 54, 55, 56, 57)) >>> 0 === 0xcbf43926) {
      native = fn;
    }
  } catch {
    // Unusable: the portable implementation stays.
  }
  return native !== null;
}

function crcTables(): Uint32Array {
  if (tables !== undefined) return tables;
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 255];
    }
  }
  tables = t;
  return t;
}

/**
 * CRC-32 of `bytes[start, end)`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  // Below a few dozen bytes the native call's overhead outweighs its speed.
  if (native !== null && end - start >= 64) return native(bytes.subarray(start, end)) >>> 0;
  const t = crcTables();
  let c = ~0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const b = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
    c = t[1792 + (a & 255)] ^ t[1536 + ((a >>> 8) & 255)] ^ t[1280 + ((a >>> 16) & 255)] ^
      t[1024 + (a >>> 24)] ^ t[768 + (b & 255)] ^ t[512 + ((b >>> 8) & 255)] ^
      t[256 + ((b >>> 16) & 255)] ^ t[b >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ ~0) >>> 0;
}
