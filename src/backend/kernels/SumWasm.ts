/**
 * Sum over leading or middle axes for tfjs-backend-wasm as a column sum on the heap, in the SIMD
 * module (`sum_middle`) or, without it, in JavaScript; both add in float64, as the cpu backend.
 * wasm's own kernel sums innermost axes only, so it first transposes the input (a full copy, slow
 * for a tall matrix): 25–38 ms for a bias gradient, the sum of [30720, 128] over axis 0. Float32
 * values only; sums over innermost axes, over non-adjacent axes and of int32 values go to the
 * original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Blocks of at most this many floats (64 KB) are summed column by column (they stay in cache). */
const SMALL_BLOCK = 16384;

/**
 * Sums `x[o, :, c]` for each `o < outer`, `c < inner` into `out[o, c]`, eight columns at a time
 * in float64 registers, adding rows in order (as tfjs-backend-cpu does). Fast when each
 * `[reduce, inner]` block fits in cache.
 */
function sumColumns(heap: Float32Array, src: number, dst: number, outer: number, reduce: number,
    inner: number): void {
  for (let o = 0; o < outer; o++, src += reduce * inner, dst += inner) {
    let c = 0;
    for (; c + 8 <= inner; c += 8) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let r = 0, p = src + c; r < reduce; r++, p += inner) {
        s0 += heap[p]; s1 += heap[p + 1]; s2 += heap[p + 2]; s3 += heap[p + 3];
        s4 += heap[p + 4]; s5 += heap[p + 5]; s6 += heap[p + 6]; s7 += heap[p + 7];
      }
      const q = dst + c;
      heap[q] = s0; heap[q + 1] = s1; heap[q + 2] = s2; heap[q + 3] = s3;
      heap[q + 4] = s4; heap[q + 5] = s5; heap[q + 6] = s6; heap[q + 7] = s7;
    }
    for (; c < inner; c++) {
      let s = 0;
      for (let r = 0, p = src + c; r < reduce; r++, p += inner) s += heap[p];
      heap[dst + c] = s;
    }
  }
}

/**
 * The same sums row by row into a float64 accumulator, four rows per pass (one read-modify-write
 * of the accumulator per four rows): for blocks too large for cache, read once in order.
 */
function sumRows(heap: Float32Array, src: number, dst: number, outer: number, reduce: number,
    inner: number): void {
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++, dst += inner) {
    acc.fill(0);
    let p = src + o * reduce * inner;
    let r = 0;
    for (; r + 4 <= reduce; r += 4, p += 4 * inner) {
      const p1 = p + inner;
      const p2 = p1 + inner;
      const p3 = p2 + inner;
      for (let c = 0; c < inner; c++) acc[c] += heap[p + c] + heap[p1 + c] + heap[p2 + c] + heap[p3 + c];
    }
    for (; r < reduce; r++, p += inner) {
      for (let c = 0; c < inner; c++) acc[c] += heap[p + c];
    }
    heap.set(acc, dst);
  }
}

const fastSum: FastPath = ({ inputs: { x }, backend, attrs }) => {
  if (x.dtype !== 'float32') return null;
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  const axes = [...tf.util.parseAxisParam(axis, x.shape)].sort((a, b) => a - b);
  const first = axes[0];
  const last = axes[axes.length - 1];
  // Innermost axes need no transpose in the original kernel; non-adjacent axes are rare.
  if (axes.length === 0 || last === rank - 1 || last - first !== axes.length - 1) return null;
  const outer = prod(x.shape.slice(0, first));
  const reduce = prod(x.shape.slice(first, last + 1));
  const inner = prod(x.shape.slice(last + 1));
  const outShape = keepDims
    ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    : x.shape.filter((_, i) => i < first || i > last);
  const out = backend.makeOutput(outShape, 'float32');
  const simd = simdKernels(backend);
  if (simd !== null) {
    simd.sum_middle(heapOffset(backend, x), heapOffset(backend, out), outer, reduce, inner);
    return out;
  }
  // Views after makeOutput: growing the heap detaches earlier views.
  const heap = (backend.wasm as unknown as { HEAPF32: Float32Array }).HEAPF32;
  const src = heapOffset(backend, x) >>> 2;
  const dst = heapOffset(backend, out) >>> 2;
  if (reduce * inner <= SMALL_BLOCK) sumColumns(heap, src, dst, outer, reduce, inner);
  else sumRows(heap, src, dst, outer, reduce, inner);
  return out;
};

/**
 * Wraps tfjs-backend-wasm's `Sum` kernel config so that float32 sums over a run of adjacent
 * axes that are not innermost (the batch axis of a bias gradient) are column sums, without
 * the original's transpose.
 *
 * @param original The wasm backend's own config (`tf.getKernel('Sum', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('Sum', 'wasm')!;
 * tf.unregisterKernel('Sum', 'wasm');
 * tf.registerKernel(columnSum(original));
 * ```
 */
export function columnSum(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.Sum, fastSum);
}
