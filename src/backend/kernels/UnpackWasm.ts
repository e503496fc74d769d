/**
 * Unpack (`tf.unstack`) for tfjs-backend-wasm that reads its input once. wasm's own kernel calls
 * its Slice helper once per output, and each call first copies the whole input to a JS array:
 * unstacking a [1024, 30, 96] tensor along axis 1 copied 30 × 11.8 MB (≈ 0.2–0.4 s).
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { isHeapDtype, sliceOnHeap } from './heap_copy';

const fastUnpack: FastPath = ({ inputs: { value }, backend, attrs }) => {
  if (!isHeapDtype(value.dtype)) return null;
  const rank = value.shape.length;
  const axis = tf.util.parseAxisParam((attrs as unknown as tf.UnpackAttrs).axis, value.shape)[0];
  const outShape = value.shape.filter((_, d) => d !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    outs.push(sliceOnHeap(backend, value, begin, size, outShape));
  }
  return outs;
};

/**
 * Wraps tfjs-backend-wasm's `Unpack` kernel config so that float32, int32 and bool tensors are
 * unstacked straight from the heap.
 *
 * @param original The wasm backend's own config (`tf.getKernel('Unpack', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('Unpack', 'wasm')!;
 * tf.unregisterKernel('Unpack', 'wasm');
 * tf.registerKernel(heapUnpack(original));
 * ```
 */
export function heapUnpack(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.Unpack, fastUnpack);
}
