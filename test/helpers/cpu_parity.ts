import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect } from 'vitest';

import { useBackend } from '../../src/backend/use_backend';

/**
 * Puts this test file on the wasm backend with duet-tf's kernels (through `useBackend`) for its
 * tests, and back on cpu afterwards. Call at module scope.
 */
export function useWasmInThisFile(): void {
  beforeAll(async () => {
    await useBackend('cpu');
    await import('@tensorflow/tfjs-backend-wasm');
    expect(await useBackend('wasm')).toBe('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });
}

/** One output of a computation, read back. */
export interface Output {
  shape: number[];
  dtype: tf.DataType;
  values: unknown[];
}

/** Runs `f` on `backend` (inside tidy) and reads every output back; frees them. */
export async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Output[]> {
  await tf.setBackend(backend);
  const result = tf.tidy(f);
  const list = Array.isArray(result) ? result : [result];
  const outputs: Output[] = [];
  for (const t of list) {
    const values = t.dtype === 'string' ? (await t.data()) as unknown as unknown[] : Array.from(await t.data() as tf.TypedArray);
    outputs.push({ shape: t.shape, dtype: t.dtype, values });
  }
  tf.dispose(list);
  return outputs;
}

/** Largest absolute difference between two numeric outputs (NaN where exactly one is NaN). */
function maxDiff(a: unknown[], b: unknown[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/**
 * Runs `f` on cpu, then on wasm, and expects the same outputs (shapes, dtypes, values: exact by
 * default, else within `tolerance`) and no data left behind on wasm.
 */
export async function expectCpuParity(f: () => tf.Tensor | tf.Tensor[], tolerance = 0): Promise<Output[]> {
  const cpu = await runOn('cpu', f);
  await tf.setBackend('wasm');
  const before = tf.backend().numDataIds();
  const wasm = await runOn('wasm', f);
  expect(tf.backend().numDataIds()).toBe(before);
  expect(wasm.map((o) => [o.shape, o.dtype])).toEqual(cpu.map((o) => [o.shape, o.dtype]));
  for (let i = 0; i < cpu.length; i++) {
    if (tolerance === 0 || cpu[i].dtype === 'string') {
      expect(wasm[i].values).toEqual(cpu[i].values);
    } else {
      expect(maxDiff(wasm[i].values, cpu[i].values)).toBeLessThanOrEqual(tolerance);
    }
  }
  return wasm;
}

/** Deterministic floats in [-1, 1) with a NaN, ±Infinity and -0 early on (bit-exact copies). */
export function floats(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  const specials = [NaN, Infinity, -Infinity, -0];
  for (let i = 0; i < specials.length && 3 * i + 1 < n; i++) out[3 * i + 1] = specials[i];
  return out;
}

/** Deterministic int32 values in [-1000, 1000). */
export function ints(n: number, seed = 1): Int32Array {
  return Int32Array.from(floats(n, seed), (v, i) => (Number.isFinite(v) ? Math.floor(v * 1000) : i));
}

/** Deterministic 0/1 values (for bool tensors). */
export function bits(n: number, seed = 1): Uint8Array {
  return Uint8Array.from(ints(n, seed), (v) => v & 1);
}
