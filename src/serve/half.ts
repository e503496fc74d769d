/**
 * IEEE 754 half precision (binary16) by hand: `Math.f16round` and `Float16Array` are not in
 * every runtime duet-tf supports, and `Buffer` is not in browsers.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite half-precision value. */
export const HALF_MAX = 65504;

/**
 * Rounds a finite float to the nearest half-precision value (ties to even) and returns its
 * 16-bit pattern. Throws when the value is not finite or rounds beyond {@link HALF_MAX}.
 *
 * @example
 * ```ts
 * floatToHalfBits(1);    // 0x3c00
 * floatToHalfBits(-2.5); // 0xc100
 * ```
 */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    throw new Error(`'floatToHalfBits' needs a finite value, got ${value}`);
  }
  const e = exp - 112; // rebias: 127 (float) → 15 (half)
  let half: number;
  if (e <= 0) {
    // Subnormal half (or zero): the implicit bit joins the mantissa, shifted further right.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
  } else {
    half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  }
  if (half >= 0x7c00) {
    throw new Error(`'floatToHalfBits': ${value} is beyond the half-precision range ` +
      `(±${HALF_MAX})`);
  }
  return sign | half;
}

/**
 * Converts many floats at once (the payload encoder's hot loop): `out[i]` gets the
 * half-precision bits of `values[i]`, rounded as {@link floatToHalfBits} does. Returns -1, or
 * the index of the first value that is not finite or beyond ±65504 (`out` is then partial).
 *
 * @example
 * ```ts
 * const out = new Uint16Array(2);
 * floatsToHalfBits(Float32Array.from([1, -2.5]), out); // -1; out = [0x3c00, 0xc100]
 * ```
 */
export function floatsToHalfBits(values: Float32Array, out: Uint16Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const abs = x & 0x7fffffff;
    if (abs >= 0x38800000) {
      // Normal half range and above, branch-free: rebias the exponent (127 → 15) in place, then
      // round the 13 dropped mantissa bits to nearest even (adding 0xfff plus the kept low bit
      // carries exactly when the rest is above half, or half with an odd kept bit); a carry out
      // of the mantissa bumps the exponent, as it should.
      const h = abs - 0x38000000;
      const half = (h + 0xfff + ((h >>> 13) & 1)) >>> 13;
      // Also catches infinities and NaNs (their exponent rebiases beyond 30).
      if (half >= 0x7c00) return i;
      out[i] = sign | half;
      continue;
    }
    // Subnormal half (or zero): the implicit bit joins the mantissa, shifted further right.
    const shift = 126 - (abs >>> 23);
    if (shift > 24) {
      out[i] = sign;
      continue;
    }
    const m = (abs & 0x7fffff) | 0x800000;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    out[i] = sign | half;
  }
  return -1;
}

let decodeTable: Float32Array | undefined;

/**
 * The value of a 16-bit half-precision pattern; infinities and NaNs decode as such (callers
 * check).
 *
 * @example
 * ```ts
 * halfBitsToFloat(0x3c00); // 1
 * ```
 */
export function halfBitsToFloat(bits: number): number {
  decodeTable ??= buildDecodeTable();
  return decodeTable[bits & 0xffff];
}

function buildDecodeTable(): Float32Array {
  const out = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[h] = sign * mant * 2 ** -24;
    else if (exp === 31) out[h] = mant === 0 ? sign * Infinity : NaN;
    else out[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}
