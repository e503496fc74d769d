/**
 * 64-bit FNV-1a, incremental, in plain 32-bit arithmetic (no BigInt, no Node modules), for
 * fingerprints that the cloud computes and a browser compares.
 */

// The 64-bit FNV offset basis 0xcbf29ce484222325, as two 32-bit halves.
const BASIS_HI = 0xcbf29ce4;
const BASIS_LO = 0x84222325;

/**
 * An incremental 64-bit FNV-1a hash (prime 2^40 + 0x1b3).
 *
 * @example
 * ```ts
 * const h = new Fnv1a64();
 * h.update(new TextEncoder().encode('a'));
 * h.hex(); // 'af63dc4c8601ec8c'
 * ```
 */
export class Fnv1a64 {
  private hi = BASIS_HI;
  private lo = BASIS_LO;

  /** Hashes more bytes. */
  update(bytes: Uint8Array): this {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < bytes.length; i++) {
      lo = (lo ^ bytes[i]) >>> 0;
      // h * (2^40 + 435) mod 2^64: the 2^40 term moves lo's low 24 bits into hi.
      const low = lo * 435;
      const carry = Math.floor(low / 4294967296);
      hi = (hi * 435 + carry + ((lo << 8) >>> 0)) >>> 0;
      lo = low >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** Hashes a string's UTF-8 bytes followed by a 0 separator. */
  updateText(text: string): this {
    return this.update(new TextEncoder().encode(text)).update(SEPARATOR);
  }

  /** Hashes an unsigned 32-bit integer (little-endian). */
  updateUint32(value: number): this {
    const v = value >>> 0;
    return this.update(new Uint8Array([v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24]));
  }

  /** The digest as 16 lowercase hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

const SEPARATOR = new Uint8Array([0]);
