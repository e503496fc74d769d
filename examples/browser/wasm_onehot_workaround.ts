/**
 * TEMPORARY workaround, used by the browser example and the device–cloud benchmarks.
 *
 * tfjs-backend-wasm 4.22's OneHot kernel ignores `dtype`: asked for float32 it writes int32 bit
 * patterns (1 reads as 1.4e-45). duet-tf's `gatherLastValid` (SequencePooling 'last', hence
 * SASRec's and GRU4Rec's user state) selects with `tf.oneHot(…, 'float32')`, so on wasm that
 * state comes out as zeros and the models silently ignore the history — in training and in
 * inference. Until the library avoids it (e.g. `tf.cast(tf.oneHot(idx, time), 'float32')` in
 * src/layers/ops/last_valid.ts, or a OneHot replacement in registerDuetKernels('wasm')), this
 * replaces the wasm OneHot kernel with a correct one, only when the probe shows the bug.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function oneHotWasm(args: {
  inputs: { indices: tf.TensorInfo }; backend: WasmBackendLike;
  attrs: { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
}): tf.TensorInfo {
  const { inputs: { indices }, backend, attrs: { depth, onValue, offValue, dtype } } = args;
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  // Views only after the allocation: growing the heap detaches earlier views.
  const values = backend.typedArrayFromHeap(out);
  const ids = backend.typedArrayFromHeap(indices);
  values.fill(offValue);
  for (let i = 0; i < ids.length; i++) {
    const k = ids[i];
    if (k >= 0 && k < depth) values[i * depth + k] = onValue;
  }
  return out;
}

/** Whether `tf.oneHot(…, 'float32')` is right on the current backend. */
export function oneHotFloatWorks(): boolean {
  const v = tf.tidy(() => tf.oneHot(tf.tensor1d([1, -1], 'int32'), 3, 1, 0, 'float32').dataSync());
  return v.length === 6 && v[1] === 1 && v[0] === 0 && v[5] === 0;
}

/**
 * On the wasm backend, replaces its OneHot kernel when it returns wrong float32 values; returns
 * whether it did. A no-op on other backends or once tfjs (or duet-tf) fixes it.
 *
 * @example
 * ```ts
 * await useBackend('wasm');
 * ensureWasmOneHot();
 * ```
 */
export function ensureWasmOneHot(): boolean {
  if (tf.getBackend() !== 'wasm' || oneHotFloatWorks()) return false;
  tf.unregisterKernel(tf.OneHot, 'wasm');
  tf.registerKernel({ kernelName: tf.OneHot, backendName: 'wasm',
    kernelFunc: oneHotWasm as unknown as tf.KernelFunc });
  if (!oneHotFloatWorks()) throw new Error('ensureWasmOneHot: the replacement OneHot kernel is wrong');
  return true;
}
