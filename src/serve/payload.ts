/**
 * The parameter payload: the bytes a device receives from the generation service. Browser-safe
 * (`Uint8Array`/`DataView` only), so the device runtime decodes exactly what the server encodes.
 *
 * Layout of version 1 (all integers little-endian):
 *
 * | bytes | field |
 * |---|---|
 * | 4 | magic `DTFP` |
 * | 2 | version (1) |
 * | 1 | format: 0 = f32, 1 = f16, 2 = int8 |
 * | 1 | flags, 0 (reserved) |
 * | 8 | generator fingerprint (see {@link generatorFingerprint}) |
 * | 4 | batch: number of parameter vectors (users) |
 * | 4 | total: values per vector |
 * | 2 | number of layers, then per layer: name length (1 byte), UTF-8 name, inputDim (4), outputDim (4), useBias (1) |
 * | … | int8 only: one float32 scale per vector and layer, `[batch, layers]` |
 * | … | values `[batch, total]`: float32, half floats, or int8 (value = q × scale) |
 * | 4 | CRC-32 of every byte before it |
 */
import { DynamicLayerSpec, paramLayout } from '../layers/param_layout';
import { crc32 } from './crc32';
import { floatsToHalfBits, halfBitsToFloat } from './half';

/** How parameter values are stored: 4, 2 or 1 byte(s) each. */
export type PayloadFormat = 'f32' | 'f16' | 'int8';

/**
 * Every payload format, in the order of their codes.
 *
 * @example
 * ```ts
 * PAYLOAD_FORMATS.includes('f16'); // true
 * ```
 */
export const PAYLOAD_FORMATS: readonly PayloadFormat[] = ['f32', 'f16', 'int8'];

/**
 * The payload version this code writes (and the newest it reads).
 *
 * @example
 * ```ts
 * decodePayload(bytes).version <= PAYLOAD_VERSION; // always
 * ```
 */
export const PAYLOAD_VERSION = 1;

const MAGIC = [0x44, 0x54, 0x46, 0x50]; // 'DTFP'
const BYTES_PER_VALUE: Record<PayloadFormat, number> = { f32: 4, f16: 2, int8: 1 };
const FIXED_HEADER = 26;
const LAYER_FIXED = 10;
const CHECKSUM = 4;
const FINGERPRINT_RE = /^[0-9a-f]{16}$/;

/** One generated layer as a payload describes it. */
export interface PayloadLayer {
  name: string;
  inputDim: number;
  outputDim: number;
  useBias: boolean;
}

/** A parameter layout: layer specs in order, or an object with `slices` (as `splitDuet` returns). */
export type PayloadLayout = readonly DynamicLayerSpec[] | { slices: readonly DynamicLayerSpec[] };

/** Options of {@link encodePayload}. */
export interface EncodePayloadOptions {
  /** The layers the values are for, in order. Required. */
  layout: PayloadLayout;
  /** Fingerprint of the generator that produced the values: 16 lowercase hex digits. Required. */
  fingerprint: string;
  /** How values are stored. Default `'f32'`. */
  format?: PayloadFormat;
  /** Number of parameter vectors in `values`. Default 1. */
  batch?: number;
}

/** A decoded payload. */
export interface DecodedPayload {
  /** Payload version the bytes were written with. */
  version: number;
  /** Fingerprint of the generator that produced the values. */
  fingerprint: string;
  /** How the values were stored. */
  format: PayloadFormat;
  /** The layers, in the order their parameters are laid out. */
  layers: PayloadLayer[];
  /** Values per parameter vector. */
  total: number;
  /** Number of parameter vectors. */
  batch: number;
  /** The values `[batch, total]`, row-major, as float32 (dequantised for f16 and int8). */
  values: Float32Array;
}

function layoutSpecs(layout: PayloadLayout, caller: string): PayloadLayer[] {
  const specs = Array.isArray(layout) ? layout :
    (layout as { slices?: readonly DynamicLayerSpec[] } | null)?.slices;
  if (!Array.isArray(specs)) {
    throw new Error(`'layout' passed to '${caller}' must be an array of layer specs or an ` +
      `object with 'slices'`);
  }
  return paramLayout(specs, caller).slices.map((s) => ({
    name: s.name, inputDim: s.inputDim, outputDim: s.outputDim, useBias: s.useBias,
  }));
}

interface CheckedLayout { layers: PayloadLayer[]; names: Uint8Array[] }

// Layouts are checked once per layout object: a server encodes thousands of payloads with one.
const checkedLayouts = new WeakMap<object, CheckedLayout>();

function checkedLayout(layout: PayloadLayout, caller: string): CheckedLayout {
  const key = layout as object;
  const cached = key !== null && typeof key === 'object' ? checkedLayouts.get(key) : undefined;
  if (cached !== undefined) return cached;
  const layers = layoutSpecs(layout, caller);
  if (layers.length > 0xffff) {
    throw new Error(`'${caller}' supports at most 65535 layers, got ${layers.length}`);
  }
  const encoder = new TextEncoder();
  const names = layers.map((l) => encoder.encode(l.name));
  names.forEach((name, i) => {
    if (name.length > 255) {
      throw new Error(`layer name '${layers[i].name}' passed to '${caller}' is longer than ` +
        `255 UTF-8 bytes`);
    }
  });
  const checked = { layers, names };
  checkedLayouts.set(key, checked);
  return checked;
}

function layerSize(l: PayloadLayer): number {
  return l.inputDim * l.outputDim + (l.useBias ? l.outputDim : 0);
}

function formatOf(format: unknown, caller: string): PayloadFormat {
  const f = format ?? 'f32';
  if (!PAYLOAD_FORMATS.includes(f as PayloadFormat)) {
    throw new Error(`'format' passed to '${caller}' must be one of 'f32', 'f16', 'int8', got ` +
      `${JSON.stringify(format)}`);
  }
  return f as PayloadFormat;
}

function positiveIntOf(value: unknown, fallback: number, key: string, caller: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || (v as number) <= 0 || (v as number) > 0xffffffff) {
    throw new Error(`'${key}' passed to '${caller}' must be a positive integer, got ${String(value)}`);
  }
  return v as number;
}

/**
 * Size in bytes of a payload, without building it.
 *
 * @example
 * ```ts
 * const layout = [{ name: 'fc1', inputDim: 32, outputDim: 32 }, { name: 'fc2', inputDim: 32, outputDim: 32 }];
 * payloadByteLength(layout, { format: 'f16' }); // 4,280 bytes for 2,112 values
 * ```
 */
export function payloadByteLength(layout: PayloadLayout,
    { format, batch }: { format?: PayloadFormat; batch?: number } = {}): number {
  const layers = layoutSpecs(layout, 'payloadByteLength');
  const f = formatOf(format, 'payloadByteLength');
  const b = positiveIntOf(batch, 1, 'batch', 'payloadByteLength');
  const encoder = new TextEncoder();
  const names = layers.reduce((sum, l) => sum + encoder.encode(l.name).length + LAYER_FIXED, 0);
  const total = layers.reduce((sum, l) => sum + layerSize(l), 0);
  const scales = f === 'int8' ? b * layers.length * 4 : 0;
  return FIXED_HEADER + names + scales + b * total * BYTES_PER_VALUE[f] + CHECKSUM;
}

/**
 * Encodes parameter vectors (one per user) as a versioned, checksummed payload.
 *
 * `f16` rounds each value to half precision (relative error ≤ 2^-11 for |v| ≥ 2^-14); `int8`
 * stores per vector and layer a scale `max|v| / 127` and `round(v / scale)`, so each value is
 * off by at most `scale / 2`. Values must be finite (and within ±65504 for f16).
 * A layout is checked once per layout object (the server encodes many payloads with one), so
 * do not mutate a layout after passing it.
 *
 * @example
 * ```ts
 * const { generator, layout } = splitDuet(duetModel);
 * const params = (generator.predict(ids) as tf.Tensor).dataSync() as Float32Array;
 * const bytes = encodePayload(params, {
 *   layout, fingerprint: generatorFingerprint(generator), format: 'f16', batch: 1,
 * });
 * ```
 */
export function encodePayload(values: Float32Array | ArrayLike<number>,
    options: EncodePayloadOptions): Uint8Array {
  const caller = 'encodePayload';
  if (options === null || typeof options !== 'object') {
    throw new Error(`'${caller}' needs options with 'layout' and 'fingerprint'`);
  }
  const { layers, names } = checkedLayout(options.layout, caller);
  const format = formatOf(options.format, caller);
  const batch = positiveIntOf(options.batch, 1, 'batch', caller);
  const fingerprint = options.fingerprint;
  if (typeof fingerprint !== 'string' || !FINGERPRINT_RE.test(fingerprint)) {
    throw new Error(`'fingerprint' passed to '${caller}' must be 16 lowercase hex digits, got ` +
      `${JSON.stringify(fingerprint)}`);
  }
  const total = layers.reduce((sum, l) => sum + layerSize(l), 0);
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number' ||
      values.length !== batch * total) {
    throw new Error(`'values' passed to '${caller}' must hold batch × total = ${batch} × ` +
      `${total} = ${batch * total} numbers, got ${String((values as { length?: unknown })?.length)}`);
  }
  let floats: Float32Array;
  if (values instanceof Float32Array) {
    floats = values;
  } else {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw notFinite(values, i);
    floats = Float32Array.from(values);
  }
  const headerBytes = names.reduce((sum, name) => sum + name.length + LAYER_FIXED, FIXED_HEADER);
  const scaleBytes = format === 'int8' ? batch * layers.length * 4 : 0;
  const size = headerBytes + scaleBytes + batch * total * BYTES_PER_VALUE[format] + CHECKSUM;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(4, PAYLOAD_VERSION, true);
  view.setUint8(6, PAYLOAD_FORMATS.indexOf(format));
  view.setUint8(7, 0);
  for (let i = 0; i < 8; i++) bytes[8 + i] = parseInt(fingerprint.slice(2 * i, 2 * i + 2), 16);
  view.setUint32(16, batch, true);
  view.setUint32(20, total, true);
  view.setUint16(24, layers.length, true);
  let p = FIXED_HEADER;
  layers.forEach((l, i) => {
    view.setUint8(p, names[i].length);
    bytes.set(names[i], p + 1);
    p += 1 + names[i].length;
    view.setUint32(p, l.inputDim, true);
    view.setUint32(p + 4, l.outputDim, true);
    view.setUint8(p + 8, l.useBias ? 1 : 0);
    p += 9;
  });

  const n = batch * total;
  if (format === 'f32') {
    const bits = new Uint32Array(floats.buffer, floats.byteOffset, n);
    for (let i = 0; i < n; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) throw notFinite(values, i);
    if (LITTLE_ENDIAN) bytes.set(new Uint8Array(floats.buffer, floats.byteOffset, n * 4), p);
    else for (let i = 0; i < n; i++) view.setFloat32(p + 4 * i, floats[i], true);
    p += n * 4;
  } else if (format === 'f16') {
    const halves = halfScratch(n);
    const bad = floatsToHalfBits(floats, halves);
    if (bad >= 0) {
      const nonFinite = floats.findIndex((v) => !Number.isFinite(v));
      if (nonFinite >= 0) throw notFinite(values, nonFinite);
      throw new Error(`'values' passed to '${caller}' with format 'f16' must lie within ` +
        `±65504, value ${bad} is ${values[bad]}; use 'f32' or 'int8'`);
    }
    if (LITTLE_ENDIAN) bytes.set(new Uint8Array(halves.buffer, 0, n * 2), p);
    else for (let i = 0; i < n; i++) view.setUint16(p + 2 * i, halves[i], true);
    p += n * 2;
  } else {
    const scaleStart = p;
    p += batch * layers.length * 4;
    const q8 = new Int8Array(bytes.buffer, p, n);
    let i = 0;
    for (let b = 0; b < batch; b++) {
      for (let li = 0; li < layers.length; li++) {
        const end = i + layerSize(layers[li]);
        let max = 0;
        for (let j = i; j < end; j++) {
          const a = Math.abs(floats[j]);
          if (!(a < Infinity)) throw notFinite(values, j); // NaN or ±Infinity
          if (a > max) max = a;
        }
        const scale = Math.fround(max / 127);
        view.setFloat32(scaleStart + (b * layers.length + li) * 4, scale, true);
        if (scale !== 0) {
          for (let j = i; j < end; j++) {
            const q = Math.round(floats[j] / scale);
            q8[j] = q > 127 ? 127 : q < -127 ? -127 : q;
          }
        } // else: all zeros, as allocated
        i = end;
      }
    }
    p += n;
  }
  view.setUint32(p, crc32(bytes, 0, p), true);
  return bytes;
}

function notFinite(values: ArrayLike<number>, i: number): Error {
  return new Error(`'values' passed to 'encodePayload' must be finite, value ${i} is ${values[i]}`);
}

// Typed-array views are in platform byte order; the payload is little-endian.
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

// Reused between calls (encoding is synchronous): half bits before they are copied into place.
let halves = new Uint16Array(0);

function halfScratch(n: number): Uint16Array {
  if (halves.length < n) halves = new Uint16Array(Math.max(n, 2 * halves.length));
  return halves;
}

/** Reads the header fields in order, failing with a message that names the problem. */
class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly view: DataView) {}

  need(count: number, what: string): void {
    if (this.pos + count > this.bytes.length) {
      throw new Error(`'decodePayload': the payload is truncated: it ends after ` +
        `${this.bytes.length} bytes, inside ${what}`);
    }
  }
  u8(what: string): number { this.need(1, what); return this.view.getUint8(this.pos++); }
  u16(what: string): number {
    this.need(2, what); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v;
  }
  u32(what: string): number {
    this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v;
  }
}

const nameDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates a payload made by {@link encodePayload}. Every check fails with an error
 * naming the problem: magic bytes, version, format, layout, truncation or trailing bytes, the
 * checksum, and non-finite values. A payload that decodes is exactly what was encoded
 * (dequantised); a corrupted one never decodes.
 *
 * @example
 * ```ts
 * const response = await fetch('http://127.0.0.1:8080/v1/parameters', {
 *   method: 'POST', body: JSON.stringify({ sequence: [5, 17, 42] }),
 * });
 * const { fingerprint, layers, values } = decodePayload(new Uint8Array(await response.arrayBuffer()));
 * ```
 */
export function decodePayload(input: Uint8Array | ArrayBuffer): DecodedPayload {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else {
    throw new Error(`'bytes' passed to 'decodePayload' must be a Uint8Array or an ArrayBuffer, ` +
      `got ${input === null ? 'null' : typeof input}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(bytes, view);
  if (bytes.length < 4 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new Error(`'decodePayload': not a duet-tf parameter payload (the first bytes are not ` +
      `'DTFP')`);
  }
  r.pos = 4;
  const version = r.u16('the version');
  if (version === 0 || version > PAYLOAD_VERSION) {
    throw new Error(`'decodePayload': payload version ${version} is not supported (this ` +
      `duet-tf reads versions 1..${PAYLOAD_VERSION}); update duet-tf on the device`);
  }
  const formatCode = r.u8('the format');
  const format = PAYLOAD_FORMATS[formatCode];
  if (format === undefined) {
    throw new Error(`'decodePayload': unknown value format code ${formatCode} (known: 0 = f32, ` +
      `1 = f16, 2 = int8)`);
  }
  const flags = r.u8('the flags');
  if (flags !== 0) throw new Error(`'decodePayload': unknown flags ${flags} (expected 0)`);
  r.need(8, 'the fingerprint');
  let fingerprint = '';
  for (let i = 0; i < 8; i++) fingerprint += bytes[r.pos + i].toString(16).padStart(2, '0');
  r.pos += 8;
  const batch = r.u32('the batch size');
  const total = r.u32('the vector size');
  const layerCount = r.u16('the layer count');
  if (batch === 0) throw new Error(`'decodePayload': the batch size is 0`);
  if (layerCount === 0) throw new Error(`'decodePayload': the payload describes no layers`);
  const layers: PayloadLayer[] = [];
  const seen = new Set<string>();
  let sum = 0;
  for (let i = 0; i < layerCount; i++) {
    const what = `layer ${i} of ${layerCount}`;
    const nameLength = r.u8(`the name length of ${what}`);
    if (nameLength === 0) throw new Error(`'decodePayload': ${what} has an empty name`);
    r.need(nameLength, `the name of ${what}`);
    let name: string;
    try {
      name = nameDecoder.decode(bytes.subarray(r.pos, r.pos + nameLength));
    } catch {
      throw new Error(`'decodePayload': the name of ${what} is not valid UTF-8`);
    }
    r.pos += nameLength;
    if (seen.has(name)) throw new Error(`'decodePayload': layer name '${name}' appears twice`);
    seen.add(name);
    const inputDim = r.u32(`the input size of layer '${name}'`);
    const outputDim = r.u32(`the output size of layer '${name}'`);
    const bias = r.u8(`the bias flag of layer '${name}'`);
    if (inputDim === 0 || outputDim === 0) {
      throw new Error(`'decodePayload': layer '${name}' has size ${inputDim}x${outputDim}; ` +
        `both must be positive`);
    }
    if (bias > 1) {
      throw new Error(`'decodePayload': the bias flag of layer '${name}' is ${bias}, not 0 or 1`);
    }
    const layer = { name, inputDim, outputDim, useBias: bias === 1 };
    layers.push(layer);
    sum += layerSize(layer);
  }
  if (sum !== total) {
    throw new Error(`'decodePayload': the layers hold ${sum} values per vector but the header ` +
      `says ${total}`);
  }
  const scaleBytes = format === 'int8' ? batch * layerCount * 4 : 0;
  const expected = r.pos + scaleBytes + batch * total * BYTES_PER_VALUE[format] + CHECKSUM;
  if (bytes.length < expected) {
    throw new Error(`'decodePayload': the payload is truncated: ${bytes.length} bytes, its ` +
      `header describes ${expected} (${batch} × ${total} ${format} values)`);
  }
  if (bytes.length > expected) {
    throw new Error(`'decodePayload': ${bytes.length - expected} unexpected bytes after the ` +
      `end of the payload (${expected} bytes)`);
  }
  const stored = view.getUint32(expected - CHECKSUM, true);
  const actual = crc32(bytes, 0, expected - CHECKSUM);
  if (stored !== actual) {
    throw new Error(`'decodePayload': checksum mismatch (stored ${stored.toString(16)}, ` +
      `computed ${actual.toString(16)}): the payload was corrupted`);
  }

  const n = batch * total;
  const values = new Float32Array(n);
  let p = r.pos;
  const bad = (i: number, v: number) => new Error(`'decodePayload': value ${i % total} of ` +
    `vector ${Math.floor(i / total)} is ${v}; parameters must be finite`);
  if (format === 'f32') {
    for (let i = 0; i < n; i++, p += 4) {
      const v = view.getFloat32(p, true);
      if (!Number.isFinite(v)) throw bad(i, v);
      values[i] = v;
    }
  } else if (format === 'f16') {
    for (let i = 0; i < n; i++, p += 2) {
      const v = halfBitsToFloat(view.getUint16(p, true));
      if (!Number.isFinite(v)) throw bad(i, v);
      values[i] = v;
    }
  } else {
    const scales = new Float32Array(batch * layerCount);
    for (let i = 0; i < scales.length; i++, p += 4) {
      const s = view.getFloat32(p, true);
      if (!Number.isFinite(s) || s < 0) {
        throw new Error(`'decodePayload': int8 scale ${i % layerCount} of vector ` +
          `${Math.floor(i / layerCount)} is ${s}; scales must be finite and non-negative`);
      }
      scales[i] = s;
    }
    let i = 0;
    for (let b = 0; b < batch; b++) {
      layers.forEach((l, li) => {
        const scale = scales[b * layerCount + li];
        const end = i + layerSize(l);
        for (; i < end; i++, p++) {
          const q = view.getInt8(p);
          if (q === -128) {
            throw new Error(`'decodePayload': int8 value ${i % total} of vector ${b} is -128, ` +
              `outside the symmetric range ±127`);
          }
          values[i] = q * scale;
        }
      });
    }
  }
  return { version, fingerprint, format, layers, total, batch, values };
}
