/**
 * Slice for tfjs-backend-wasm that copies only the slice. wasm's own kernel first copies the whole
 * input to a JS array (`backend.readSync`): slicing 1024 columns of a [1024, 2112] matrix reads
 * all 2112. This one copies the slice's rows straight from the input's place on the heap.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { isHeapDtype, sliceOnHeap } from './heap_copy';

const fastSlice: FastPath = ({ inputs: { x }, backend, attrs }) => {
  if (!isHeapDtype(x.dtype)) return null;
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceOnHeap(backend, x, begin_, size_);
};

/**
 * Wraps tfjs-backend-wasm's `Slice` kernel config so that float32, int32 and bool slices copy
 * only the slice (string tensors still go to the original kernel).
 *
 * @param original The wasm backend's own config (`tf.getKernel('Slice', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('Slice', 'wasm')!;
 * tf.unregisterKernel('Slice', 'wasm');
 * tf.registerKernel(heapSlice(original));
 * ```
 */
export function heapSlice(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.Slice, fastSlice);
}
