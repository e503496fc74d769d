/**
 * A OneHot for tfjs-backend-wasm that honours `dtype`. The 4.22 kernel ignores it: asked for
 * float32 it writes int32 bit patterns (1 reads as 1.4e-45), so any float32 one-hot selection
 * (a masked pick, a one-hot matMul) silently yields zeros on wasm. duet-tf's own ops cast
 * instead, but apps and other models using `tf.oneHot(…, 'float32')` on wasm get this kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function oneHotWasm(args: {
  inputs: { indices: tf.TensorInfo };
  backend: BackendWasm;
  attrs: { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
}): tf.TensorInfo {
  const { inputs: { indices }, backend, attrs: { depth, onValue, offValue, dtype } } = args;
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  // Heap views only after the allocation: growing the wasm heap detaches earlier views.
  const values = backend.typedArrayFromHeap(out);
  const ids = backend.typedArrayFromHeap(indices);
  values.fill(offValue);
  for (let i = 0; i < ids.length; i++) {
    const k = ids[i];
    // Out-of-range indices (e.g. -1) give an all-off row, as on the cpu backend.
    if (k >= 0 && k < depth) values[i * depth + k] = onValue;
  }
  return out;
}

/**
 * Kernel config of duet-tf's dtype-correct OneHot for the `'wasm'` backend; it replaces
 * tfjs-backend-wasm's own when `registerDuetKernels('wasm')` runs.
 *
 * @example
 * ```ts
 * tf.unregisterKernel('OneHot', 'wasm');
 * tf.registerKernel(oneHotWasmConfig);
 * ```
 */
export const oneHotWasmConfig: tf.KernelConfig = {
  kernelName: tf.OneHot,
  backendName: 'wasm',
  kernelFunc: oneHotWasm as unknown as tf.KernelFunc,
};
