import { describe, expect, it } from 'vitest';

import * as zlib from 'node:zlib';

import { crc32, useNativeCrc32 } from '../../src/serve/crc32';
import { Fnv1a64 } from '../../src/serve/fnv1a64';
import { floatsToHalfBits, floatToHalfBits, halfBitsToFloat } from '../../src/serve/half';
import {
  decodePayload, encodePayload, PAYLOAD_FORMATS, PayloadFormat, payloadByteLength,
} from '../../src/serve/payload';

// A D=32 two-layer user tower: 2 × (32·32 + 32) = 2112 values per user.
const TOWER = [
  { name: 'fc1', inputDim: 32, outputDim: 32 },
  { name: 'fc2', inputDim: 32, outputDim: 32 },
];
const FP = '0123456789abcdef';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomValues(n: number, seed: number, scale = 0.2): Float32Array {
  const r = rng(seed);
  // Mixed magnitudes, including exact zeros and tiny values.
  return Float32Array.from({ length: n }, (_, i) =>
    i % 97 === 0 ? 0 : (r() - 0.5) * 2 * scale * 10 ** (-4 * r() * (i % 3 === 0 ? 1 : 0)));
}

describe('hashes', () => {
  it('FNV-1a 64 matches the reference vectors', () => {
    const e = new TextEncoder();
    expect(new Fnv1a64().hex()).toBe('cbf29ce484222325');
    expect(new Fnv1a64().update(e.encode('a')).hex()).toBe('af63dc4c8601ec8c');
    expect(new Fnv1a64().update(e.encode('foobar')).hex()).toBe('85944171f73967e8');
    // Incremental updates equal one update.
    expect(new Fnv1a64().update(e.encode('foo')).update(e.encode('bar')).hex()).toBe('85944171f73967e8');
  });

  it('CRC-32 matches the check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  /** The definition, one bit at a time: the reference for the table-driven code. */
  function crcBitwise(bytes: Uint8Array, start: number, end: number): number {
    let c = 0xffffffff;
    for (let i = start; i < end; i++) {
      c ^= bytes[i];
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  }

  it('CRC-32 (eight bytes per step) equals the bitwise definition at every length and offset', () => {
    const r = rng(11);
    const bytes = Uint8Array.from({ length: 300 }, () => Math.floor(r() * 256));
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= 300; end += end < start + 40 ? 1 : 37) {
        expect(crc32(bytes, start, end), `[${start}, ${end})`).toBe(crcBitwise(bytes, start, end));
      }
    }
    expect(crc32(bytes)).toBe(crcBitwise(bytes, 0, 300));
  });

  it('CRC-32 uses a native implementation only when it gives the right answers', () => {
    const r = rng(12);
    const bytes = Uint8Array.from({ length: 5000 }, () => Math.floor(r() * 256));
    const expected = crcBitwise(bytes, 3, 4999);
    const calls: number[] = [];
    const native = (b: Uint8Array) => {
      calls.push(b.length);
      return (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(b);
    };
    try {
      expect(useNativeCrc32(native)).toBe(true);
      calls.length = 0;
      expect(crc32(bytes, 3, 4999)).toBe(expected);
      expect(calls).toEqual([4996]);
      expect(crc32(bytes, 0, 20)).toBe(crcBitwise(bytes, 0, 20)); // short: portable code
      expect(calls).toEqual([4996]);
      // A function with a different result is refused, and the portable code answers.
      expect(useNativeCrc32(() => 0)).toBe(false);
      expect(useNativeCrc32(() => { throw new Error('no'); })).toBe(false);
      expect(crc32(bytes, 3, 4999)).toBe(expected);
    } finally {
      useNativeCrc32(null);
    }
    calls.length = 0;
    expect(crc32(bytes, 3, 4999)).toBe(expected);
    expect(calls).toEqual([]);
  });
});

describe('half precision by hand', () => {
  it('every finite half pattern survives half → float → half', () => {
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      const v = halfBitsToFloat(h);
      if (Number.isFinite(v) && floatToHalfBits(v) !== h) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('rounds to the nearest half value, ties to even, against a brute-force reference', () => {
    const finite: Array<[number, number]> = [];
    for (let h = 0; h < 0x7c00; h++) finite.push([halfBitsToFloat(h), h]);
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const v = Math.fround(r() * 2 ** (Math.floor(r() * 40) - 26));
      if (v > 65504) continue;
      // Binary search for the neighbours of v among the positive halves.
      let lo = 0;
      let hi = finite.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (finite[mid][0] <= v) lo = mid; else hi = mid;
      }
      const [a, ha] = finite[lo];
      const [b, hb] = finite[hi];
      const expected = v - a < b - v ? ha : v - a > b - v ? hb : (ha % 2 === 0 ? ha : hb);
      expect(floatToHalfBits(v), `value ${v}`).toBe(v === b ? hb : expected);
    }
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(-2.5)).toBe(0xc100);
    expect(floatToHalfBits(2 ** -25)).toBe(0);
    expect(floatToHalfBits(1.5 * 2 ** -25)).toBe(1);
    expect(floatToHalfBits(65519)).toBe(0x7bff);
    expect(() => floatToHalfBits(65520)).toThrow('beyond the half-precision range');
    expect(() => floatToHalfBits(NaN)).toThrow('needs a finite value');
  });

  it('the bulk conversion equals the scalar one and reports the first unrepresentable value', () => {
    const r = rng(3);
    const values = Float32Array.from({ length: 20000 }, (_, i) =>
      (r() - 0.5) * 2 ** (Math.floor(r() * 46) - 30) * (i % 11 === 0 ? 0 : 1));
    values.set([0, -0, 65504, -65504, 2 ** -24, 2 ** -25, 6.1e-5], 0);
    const out = new Uint16Array(values.length);
    expect(floatsToHalfBits(values, out)).toBe(-1);
    expect(Array.from(out)).toEqual(Array.from(values, (v) => floatToHalfBits(v)));
    expect(floatsToHalfBits(Float32Array.from([1, 2, 65520, Infinity]), new Uint16Array(4))).toBe(2);
    expect(floatsToHalfBits(Float32Array.from([NaN]), new Uint16Array(1))).toBe(0);
    expect(floatsToHalfBits(Float32Array.from([-Infinity]), new Uint16Array(1))).toBe(0);
  });

  it('the bulk conversion equals the scalar one at every rounding boundary and across all floats', () => {
    const bits: number[] = [];
    // For each pair of adjacent halves, the float exactly halfway and its two float neighbours
    // (ties to even, and just either side), positive and negative.
    for (let h = 0; h < 0x7c00; h++) {
      const mid = (halfBitsToFloat(h) + halfBitsToFloat(h + 1)) / 2;
      const f = new Float32Array([mid]);
      const u = new Uint32Array(f.buffer)[0];
      for (const b of [u - 1, u, u + 1]) bits.push(b, (b | 0x80000000) >>> 0);
    }
    // Every exponent, with strided mantissas: subnormal floats, zero, huge values, Inf, NaN.
    for (let e = 0; e < 256; e++) {
      for (let m = 0; m < 0x800000; m += 65521) bits.push(((e << 23) | m) >>> 0, ((e << 23) | m | 0x80000000) >>> 0);
      bits.push(((e << 23) | 0x7fffff) >>> 0);
    }
    const values = new Float32Array(Uint32Array.from(bits).buffer);
    const out = new Uint16Array(1);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) {
      let expected: number;
      try {
        expected = floatToHalfBits(values[i]);
      } catch {
        expected = -1; // not finite or beyond ±65504: the bulk call reports index 0
      }
      const bad = floatsToHalfBits(values.subarray(i, i + 1), out);
      if ((expected < 0 ? bad !== 0 : bad !== -1 || out[0] !== expected)) mismatches++;
    }
    expect(values.length).toBeGreaterThan(250_000);
    expect(mismatches).toBe(0);
  });
});

describe('encodePayload / decodePayload', () => {
  const values = randomValues(3 * 2112, 1);

  it('f32 round-trips exactly, with header fields intact', () => {
    const bytes = encodePayload(values, { layout: TOWER, fingerprint: FP, format: 'f32', batch: 3 });
    const p = decodePayload(bytes);
    expect(p).toMatchObject({ version: 1, fingerprint: FP, format: 'f32', total: 2112, batch: 3 });
    expect(p.layers).toEqual(TOWER.map((l) => ({ ...l, useBias: true })));
    expect(Array.from(p.values)).toEqual(Array.from(values));
  });

  it('f16 is within 1e-3 relative (2^-24 absolute for tiny values)', () => {
    const p = decodePayload(encodePayload(values, { layout: TOWER, fingerprint: FP, format: 'f16', batch: 3 }));
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const err = Math.abs(p.values[i] - values[i]);
      expect(err).toBeLessThanOrEqual(Math.max(1e-3 * Math.abs(values[i]), 2 ** -24));
      if (Math.abs(values[i]) > 2 ** -14) worst = Math.max(worst, err / Math.abs(values[i]));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(0); // it really is quantised
  });

  it('int8 is within scale/2 per value, with one scale per vector and layer', () => {
    // The second layer of each vector is 100× larger: per-layer scales keep the first one precise.
    const v = values.slice();
    for (let b = 0; b < 3; b++) for (let i = 1056; i < 2112; i++) v[b * 2112 + i] *= 100;
    const p = decodePayload(encodePayload(v, { layout: TOWER, fingerprint: FP, format: 'int8', batch: 3 }));
    for (let b = 0; b < 3; b++) {
      for (const [start, end] of [[0, 1056], [1056, 2112]]) {
        let max = 0;
        for (let i = start; i < end; i++) max = Math.max(max, Math.abs(v[b * 2112 + i]));
        const scale = Math.fround(max / 127);
        for (let i = start; i < end; i++) {
          const k = b * 2112 + i;
          expect(Math.abs(p.values[k] - v[k])).toBeLessThanOrEqual(scale / 2 + 1e-7 * max);
        }
      }
    }
  });

  it('encodes views at any offset and plain arrays to the same bytes; int8 rounds as defined', () => {
    const layout = [{ name: 'a', inputDim: 3, outputDim: 2 }, { name: 'b', inputDim: 2, outputDim: 1 }];
    const n = 2 * 11;
    const v = randomValues(n, 5, 3);
    const backing = new Float32Array(n + 3);
    backing.set(v, 3); // a view at byte offset 12, as the server's per-user slices are
    const view = backing.subarray(3);
    for (const format of PAYLOAD_FORMATS) {
      const o = { layout, fingerprint: FP, format, batch: 2 };
      const bytes = encodePayload(v, o);
      expect(Array.from(encodePayload(view, o)), format).toEqual(Array.from(bytes));
      expect(Array.from(encodePayload(Array.from(v), o)), format).toEqual(Array.from(bytes));
    }
    // int8 against its definition: q = round(v / scale), scale = fround(max|v| / 127).
    const p = decodePayload(encodePayload(v, { layout, fingerprint: FP, format: 'int8', batch: 2 }));
    let i = 0;
    for (let b = 0; b < 2; b++) {
      for (const size of [8, 3]) {
        let max = 0;
        for (let j = i; j < i + size; j++) max = Math.max(max, Math.abs(v[j]));
        const scale = Math.fround(max / 127);
        for (let j = i; j < i + size; j++) expect(p.values[j]).toBe(Math.fround(Math.round(v[j] / scale) * scale) + 0);
        i += size;
      }
    }
  });

  it('every format rejects non-finite values, naming the first', () => {
    for (const format of PAYLOAD_FORMATS) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const v = new Float32Array(2112);
        v[7] = 1e6; // beyond f16, but not the problem reported: the non-finite value is
        v[1500] = bad;
        expect(() => encodePayload(v, { layout: TOWER, fingerprint: FP, format }), `${format} ${bad}`)
          .toThrow(`must be finite, value 1500 is ${bad}`);
      }
    }
    // A plain array's values are checked before they become float32 (1e39 would be Infinity).
    expect(() => encodePayload([1, 2, 3, NaN, 5, 6, 7, 8, 9, 10], { layout: [{ name: 'a', inputDim: 4, outputDim: 2 }], fingerprint: FP }))
      .toThrow('must be finite, value 3 is NaN');
    expect(() => encodePayload([1, 2, 3, 1e39, 5, 6, 7, 8, 9, 10], { layout: [{ name: 'a', inputDim: 4, outputDim: 2 }], fingerprint: FP }))
      .toThrow('must be finite, value 3 is 1e+39');
  });

  it('all-zero vectors survive every format (int8 scale 0)', () => {
    for (const format of PAYLOAD_FORMATS) {
      const p = decodePayload(encodePayload(new Float32Array(2112), { layout: TOWER, fingerprint: FP, format }));
      expect(p.values.every((x) => x === 0)).toBe(true);
    }
  });

  it('sizes in bytes: 2,112 values per user for a D=32 two-layer tower', () => {
    const sizes: Record<string, number> = {};
    for (const format of PAYLOAD_FORMATS) {
      const bytes = encodePayload(values.subarray(0, 2112), { layout: TOWER, fingerprint: FP, format });
      expect(bytes.length).toBe(payloadByteLength(TOWER, { format }));
      sizes[format] = bytes.length;
    }
    // Header 26 + 2 × 13 layer entries = 52 bytes, checksum 4, int8 adds 2 float32 scales.
    expect(sizes).toEqual({ f32: 52 + 2112 * 4 + 4, f16: 52 + 2112 * 2 + 4, int8: 52 + 8 + 2112 + 4 });
    expect(payloadByteLength(TOWER, { format: 'int8', batch: 10 })).toBe(52 + 80 + 21120 + 4);
  });

  it('accepts an ArrayBuffer, and a Uint8Array view inside a larger buffer', () => {
    const bytes = encodePayload(values.subarray(0, 2112), { layout: TOWER, fingerprint: FP, format: 'f16' });
    const big = new Uint8Array(bytes.length + 7);
    big.set(bytes, 5);
    const view = big.subarray(5, 5 + bytes.length);
    expect(decodePayload(view).values).toEqual(decodePayload(bytes.slice().buffer).values);
  });

  it('keeps layouts without bias and unicode names', () => {
    const layout = [{ name: 'tête', inputDim: 3, outputDim: 2, useBias: false }, { name: 'b', inputDim: 2, outputDim: 1 }];
    const v = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const p = decodePayload(encodePayload(v, { layout: { slices: layout }, fingerprint: FP }));
    expect(p.layers).toEqual([{ name: 'tête', inputDim: 3, outputDim: 2, useBias: false },
      { name: 'b', inputDim: 2, outputDim: 1, useBias: true }]);
    expect(Array.from(p.values)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('encode rejects bad arguments with errors naming them', () => {
    const v = new Float32Array(2112);
    expect(() => encodePayload(v, { layout: TOWER, fingerprint: 'xyz' })).toThrow("'fingerprint' passed to 'encodePayload' must be 16 lowercase hex digits");
    expect(() => encodePayload(v.subarray(1), { layout: TOWER, fingerprint: FP })).toThrow("'values' passed to 'encodePayload' must hold batch × total = 1 × 2112 = 2112 numbers, got 2111");
    expect(() => encodePayload(v, { layout: TOWER, fingerprint: FP, format: 'f8' as PayloadFormat })).toThrow("'format' passed to 'encodePayload' must be one of");
    expect(() => encodePayload(v, { layout: TOWER, fingerprint: FP, batch: 0 })).toThrow("'batch' passed to 'encodePayload' must be a positive integer");
    const nan = v.slice();
    nan[5] = NaN;
    expect(() => encodePayload(nan, { layout: TOWER, fingerprint: FP })).toThrow("must be finite, value 5 is NaN");
    const big = v.slice();
    big[3] = 1e6;
    expect(() => encodePayload(big, { layout: TOWER, fingerprint: FP, format: 'f16' })).toThrow("with format 'f16' must lie within ±65504, value 3 is 1000000");
    expect(encodePayload(big, { layout: TOWER, fingerprint: FP, format: 'int8' }).length).toBeGreaterThan(0);
    expect(() => encodePayload(v, { layout: [], fingerprint: FP })).toThrow("'layers' passed to 'encodePayload' must be a non-empty array");
  });
});

describe('decodePayload never decodes damaged bytes', () => {
  const small = [{ name: 'a', inputDim: 3, outputDim: 2 }, { name: 'b', inputDim: 2, outputDim: 1, useBias: false }];
  const v = Float32Array.from([0.5, -1, 2, 0.25, 3, -4, 0.125, 1, -0.5, 7]);
  const payloads = Object.fromEntries(PAYLOAD_FORMATS.map((format) =>
    [format, encodePayload(v, { layout: small, fingerprint: FP, format, batch: 1 })])) as Record<PayloadFormat, Uint8Array>;
  const reencode = (bytes: Uint8Array) => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy, 0, copy.length - 4), true);
    return copy;
  };

  it('names the problem: magic, version, format, flags, trailing bytes, checksum', () => {
    const good = payloads.f32;
    const bad = (edit: (b: Uint8Array) => void) => {
      const b = good.slice();
      edit(b);
      return reencode(b);
    };
    expect(() => decodePayload(new Uint8Array([1, 2, 3]))).toThrow("not a duet-tf parameter payload");
    expect(() => decodePayload(bad((b) => { b[0] = 0x58; }))).toThrow("not a duet-tf parameter payload");
    expect(() => decodePayload(bad((b) => { b[4] = 2; }))).toThrow("payload version 2 is not supported");
    expect(() => decodePayload(bad((b) => { b[6] = 9; }))).toThrow("unknown value format code 9");
    expect(() => decodePayload(bad((b) => { b[7] = 1; }))).toThrow("unknown flags 1");
    expect(() => decodePayload(bad((b) => { b[16] = 0; }))).toThrow("the batch size is 0");
    expect(() => decodePayload(bad((b) => { b[20] = 11; }))).toThrow("the layers hold 10 values per vector but the header says 11");
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => decodePayload(longer)).toThrow("1 unexpected bytes after the end of the payload");
    const flipped = good.slice();
    flipped[flipped.length - 10] ^= 1; // inside the values
    expect(() => decodePayload(flipped)).toThrow("checksum mismatch");
    expect(() => decodePayload('abc' as unknown as Uint8Array)).toThrow("'bytes' passed to 'decodePayload' must be a Uint8Array or an ArrayBuffer");
  });

  it('rejects non-finite values and invalid int8 data even with a valid checksum', () => {
    const f32 = payloads.f32.slice();
    const valuesStart = f32.length - 4 - 40;
    new DataView(f32.buffer).setFloat32(valuesStart + 8, Infinity, true);
    expect(() => decodePayload(reencode(f32))).toThrow("value 2 of vector 0 is Infinity; parameters must be finite");
    const f16 = payloads.f16.slice();
    new DataView(f16.buffer).setUint16(f16.length - 4 - 20, 0x7e00, true);
    expect(() => decodePayload(reencode(f16))).toThrow("value 0 of vector 0 is NaN");
    const int8 = payloads.int8.slice();
    int8[int8.length - 5] = 0x80;
    expect(() => decodePayload(reencode(int8))).toThrow("int8 value 9 of vector 0 is -128");
    const scale = payloads.int8.slice();
    new DataView(scale.buffer).setFloat32(scale.length - 4 - 10 - 8, -1, true);
    expect(() => decodePayload(reencode(scale))).toThrow("int8 scale 0 of vector 0 is -1");
  });

  it('every truncation fails with a clear error', () => {
    for (const format of PAYLOAD_FORMATS) {
      const good = payloads[format];
      for (let n = 0; n < good.length; n++) {
        expect(() => decodePayload(good.subarray(0, n)), `${format} cut at ${n}`)
          .toThrow(/'decodePayload': (the payload is truncated|not a duet-tf parameter payload)/);
      }
    }
  });

  it('every single-byte change anywhere fails (checksum or structure), never a wrong decode', () => {
    for (const format of PAYLOAD_FORMATS) {
      const good = payloads[format];
      for (let i = 0; i < good.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const b = good.slice();
          b[i] ^= mask;
          expect(() => decodePayload(b), `${format} byte ${i} ^ ${mask}`).toThrow(/^'decodePayload': /);
        }
      }
    }
  });

  it('fuzz: random bytes and random multi-byte corruption never decode', () => {
    const r = rng(99);
    let thrown = 0;
    for (let t = 0; t < 3000; t++) {
      let b: Uint8Array;
      if (t % 3 === 0) {
        b = Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
        if (t % 2 === 0 && b.length >= 6) b.set([0x44, 0x54, 0x46, 0x50, 1, 0]); // past the magic
      } else {
        const good = payloads[PAYLOAD_FORMATS[t % 3]];
        b = good.slice(0, Math.max(1, good.length - (t % 5 === 0 ? Math.floor(r() * 8) : 0)));
        const hits = 1 + Math.floor(r() * 6);
        for (let k = 0; k < hits; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        if (b.length === good.length && b.every((x, i) => x === good[i])) continue; // unchanged
      }
      try {
        decodePayload(b);
      } catch (e) {
        expect((e as Error).message).toMatch(/^'decodePayload': /);
        thrown++;
        continue;
      }
      throw new Error(`fuzz case ${t} decoded`);
    }
    expect(thrown).toBeGreaterThan(2900);
  });
});
