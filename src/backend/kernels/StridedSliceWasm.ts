/**
 * StridedSlice for tfjs-backend-wasm whose unit-stride path copies only the slice: wasm's own
 * kernel sends unit-stride slices (the common case) through its Slice helper, which first copies
 * the whole input to a JS array. Other strides still go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { isHeapDtype, sliceOnHeap } from './heap_copy';

const fastStridedSlice: FastPath = ({ inputs: { x }, backend, attrs }) => {
  if (!isHeapDtype(x.dtype)) return null;
  const a = attrs as unknown as tf.StridedSliceAttrs;
  const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask,
    a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
  // The identity is a reshape in the original kernel: no copy to save.
  if (info.isIdentity || !(info.sliceDim0 || info.isSimpleSlice)) return null;
  const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
  if (size.some((s) => s < 0)) return null;
  return sliceOnHeap(backend, x, info.begin, size, info.finalShape);
};

/**
 * Wraps tfjs-backend-wasm's `StridedSlice` kernel config so that unit-stride slices of float32,
 * int32 and bool tensors copy only the slice.
 *
 * @param original The wasm backend's own config (`tf.getKernel('StridedSlice', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('StridedSlice', 'wasm')!;
 * tf.unregisterKernel('StridedSlice', 'wasm');
 * tf.registerKernel(heapStridedSlice(original));
 * ```
 */
export function heapStridedSlice(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.StridedSlice, fastStridedSlice);
}
