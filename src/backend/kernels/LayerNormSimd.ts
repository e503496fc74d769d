/**
 * duet-tf's fused layer normalisation kernels (`DuetLayerNorm` and `DuetLayerNormGrad`,
 * registered for wasm by `layers/ops/layer_norm.ts`) through the SIMD module's `layer_norm` and
 * `layer_norm_grad`: one pass over the activation forward and one backward instead of JavaScript
 * loops.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * The kernels' names (the layers' `LAYER_NORM`, `LAYER_NORM_GRAD`; the backend cannot import layers).
 *
 * @example
 * ```ts
 * tf.getKernel(LAYER_NORM_KERNEL, 'wasm');
 * ```
 */
export const LAYER_NORM_KERNEL = 'DuetLayerNorm';
/**
 * See {@link LAYER_NORM_KERNEL}.
 *
 * @example
 * ```ts
 * tf.getKernel(LAYER_NORM_GRAD_KERNEL, 'wasm');
 * ```
 */
export const LAYER_NORM_GRAD_KERNEL = 'DuetLayerNormGrad';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Rows and row length when the SIMD kernels take the call (float32, `d` a multiple of 4), else null. */
function simdPlan(x: tf.TensorInfo, gamma: tf.TensorInfo): { rows: number; d: number } | null {
  if (x.dtype !== 'float32' || gamma.dtype !== 'float32' || x.shape.length < 1) return null;
  const d = x.shape[x.shape.length - 1];
  if (d === 0 || d % 4 !== 0 || gamma.shape.length !== 1 || gamma.shape[0] !== d) return null;
  return { rows: prod(x.shape.slice(0, -1)), d };
}

const forward: FastPath = ({ inputs: { x, gamma, beta }, backend, attrs }) => {
  const plan = simdPlan(x, gamma);
  if (plan === null || beta.dtype !== 'float32' || beta.shape.length !== 1 || beta.shape[0] !== plan.d) return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const y = backend.makeOutput([...x.shape], 'float32');
  if (plan.rows > 0) {
    simd.layer_norm(heapOffset(backend, x), heapOffset(backend, gamma), heapOffset(backend, beta),
      heapOffset(backend, y), plan.rows, plan.d, Number(attrs.epsilon));
  }
  return y;
};

const gradient: FastPath = ({ inputs: { dy, x, gamma }, backend, attrs }) => {
  const plan = simdPlan(x, gamma);
  if (plan === null || dy.dtype !== 'float32') return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([plan.d], 'float32');
  const dbeta = backend.makeOutput([plan.d], 'float32');
  const wasm = backend.wasm as unknown as { _malloc(n: number): number; _free(p: number): void };
  const acc = wasm._malloc(2 * plan.d * 8);
  try {
    simd.layer_norm_grad(heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, gamma),
      heapOffset(backend, dx), heapOffset(backend, dgamma), heapOffset(backend, dbeta), acc, plan.rows,
      plan.d, Number(attrs.epsilon));
  } finally {
    wasm._free(acc);
  }
  return [dx, dgamma, dbeta];
};

/**
 * Wraps the wasm `DuetLayerNorm` config so that float32 rows whose length is a multiple of 4 run
 * in the SIMD kernel (float32 statistics; the JavaScript kernel's are float64: they differ by
 * rounding).
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdLayerNorm(tf.getKernel('DuetLayerNorm', 'wasm')!);
 * ```
 */
export function simdLayerNorm(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, LAYER_NORM_KERNEL, forward);
}

/**
 * Wraps the wasm `DuetLayerNormGrad` config the same way as {@link simdLayerNorm}.
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdLayerNormGrad(tf.getKernel('DuetLayerNormGrad', 'wasm')!);
 * ```
 */
export function simdLayerNormGrad(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, LAYER_NORM_GRAD_KERNEL, gradient);
}
