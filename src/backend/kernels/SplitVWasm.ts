/**
 * SplitV (`tf.split`) for tfjs-backend-wasm that reads its input once. wasm's own kernel calls
 * its Slice helper once per part, and each call first copies the whole input to a JS array.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { isHeapDtype, sliceOnHeap } from './heap_copy';

const fastSplitV: FastPath = ({ inputs: { x }, backend, attrs }) => {
  if (!isHeapDtype(x.dtype)) return null;
  const { numOrSizeSplits, axis } = attrs as unknown as tf.SplitVAttrs;
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0];
  // A copy: prepareSplitSize fills in a -1 size in place.
  const splits = Array.isArray(numOrSizeSplits) ? [...numOrSizeSplits] : numOrSizeSplits;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, splits, $axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  const size = [...x.shape];
  return sizes.map((s) => {
    size[$axis] = s;
    const part = sliceOnHeap(backend, x, begin, size);
    begin[$axis] += s;
    return part;
  });
};

/**
 * Wraps tfjs-backend-wasm's `SplitV` kernel config so that float32, int32 and bool tensors are
 * split straight from the heap.
 *
 * @param original The wasm backend's own config (`tf.getKernel('SplitV', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('SplitV', 'wasm')!;
 * tf.unregisterKernel('SplitV', 'wasm');
 * tf.registerKernel(heapSplitV(original));
 * ```
 */
export function heapSplitV(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.SplitV, fastSplitV);
}
