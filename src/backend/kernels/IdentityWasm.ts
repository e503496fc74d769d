/**
 * A zero-copy Identity for tfjs-backend-wasm, replacing its own, which copies the tensor. Every
 * `tf.clone` goes through Identity, and so does every tensor a custom gradient saves
 * (`tf.fused.matMul` — tfjs-layers' Dense —, `tf.logSoftmax`, …). The copies cost memory and time,
 * and with `IS_TEST` set (test/setup.ts) tfjs-core's leak check counts them as leaks and throws
 * "Backend 'wasm' has an internal memory leak" when such a model trains. Sharing the data with a
 * reference count is what tfjs-backend-cpu's Identity and tfjs-backend-wasm's own Reshape do;
 * tensors are immutable, so no kernel writes into shared memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function identityWasm(args: { inputs: { x: tf.TensorInfo }; backend: BackendWasm }): tf.TensorInfo {
  const { inputs: { x }, backend } = args;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Kernel config of duet-tf's zero-copy Identity for the `'wasm'` backend; it replaces
 * tfjs-backend-wasm's copying kernel when `registerDuetKernels('wasm')` runs.
 *
 * @example
 * ```ts
 * tf.unregisterKernel('Identity', 'wasm');
 * tf.registerKernel(identityWasmConfig);
 * ```
 */
export const identityWasmConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identityWasm as unknown as tf.KernelFunc,
};
