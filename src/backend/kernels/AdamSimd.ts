/**
 * duet-tf's fused Adam kernel (`DuetAdam`, registered for wasm by `train/optim/adam_kernels.ts`)
 * through the SIMD module's `adam_update`: one vectorised pass per variable, reading the value,
 * gradient and moments and writing the three new arrays.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * The kernel's name (train's `ADAM`; the backend cannot import train).
 *
 * @example
 * ```ts
 * tf.getKernel(ADAM_KERNEL, 'wasm');
 * ```
 */
export const ADAM_KERNEL = 'DuetAdam';

const sizeOf = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

const update: FastPath = ({ inputs: { w, g, m, v, scale }, backend, attrs }) => {
  if (w === undefined || g === undefined || m === undefined || v === undefined || scale === undefined) return null;
  const n = sizeOf(w);
  if ([w, g, m, v, scale].some((t) => t.dtype !== 'float32') || [g, m, v].some((t) => sizeOf(t) !== n) ||
      sizeOf(scale) !== 1) {
    return null; // the JavaScript kernel names the problem
  }
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const outs = [0, 1, 2].map(() => backend.makeOutput([...w.shape], 'float32'));
  const f = Math.fround;
  const a = attrs as Record<string, number>;
  const s = (backend.typedArrayFromHeap(scale) as Float32Array)[0];
  if (n > 0) {
    simd.adam_update(heapOffset(backend, w), heapOffset(backend, g), heapOffset(backend, m), heapOffset(backend, v),
      heapOffset(backend, outs[0]), heapOffset(backend, outs[1]), heapOffset(backend, outs[2]), n, s,
      f(a.beta1), f(1 - a.beta1), f(a.beta2), f(1 - a.beta2), f(a.c1), f(a.c2), f(a.epsilon), f(-a.learningRate));
  }
  return outs;
};

/**
 * Wraps the wasm `DuetAdam` config so that float32 calls run in the SIMD kernel (the same float32
 * operations in the same order as the JavaScript kernel and `tf.train.adam`).
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdAdam(tf.getKernel('DuetAdam', 'wasm')!);
 * ```
 */
export function simdAdam(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, ADAM_KERNEL, update);
}
