/**
 * Layer normalisation over the last axis, as plain tensor math for layers that own the weights:
 * one fused kernel forward and one backward (`DuetLayerNorm`, `DuetLayerNormGrad`) where the
 * backend has them (cpu, wasm), else the op chain.
 */
import * as tf from '@tensorflow/tfjs-core';

import { LAYER_NORM, LAYER_NORM_GRAD } from './layer_norm_impl';
import { LAYER_NORM_KERNELS } from './layer_norm_kernels';

/** Registers the fused kernels where missing (cheap after the first call). */
function registerKernels(): void {
  for (const config of LAYER_NORM_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
}

// At import too, so that `useBackend` (run after importing duet-tf) can give the wasm kernels
// their SIMD fast path (backend/kernels/LayerNormSimd.ts).
registerKernels();

function hasFusedKernels(): boolean {
  const backend = tf.engine().backendName;
  return backend != null && tf.getKernel(LAYER_NORM, backend) != null &&
    tf.getKernel(LAYER_NORM_GRAD, backend) != null;
}

/** The op chain: tfjs differentiates it on any backend. */
export function layerNormByOps(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normed, gamma), beta);
  });
}

function layerNormFused(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const engine = tf.engine();
  const f = tf.customGrad(((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = engine.runKernel(LAYER_NORM, { x: xs, gamma: g, beta: b }, { epsilon }) as tf.Tensor;
    save([xs, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => engine.runKernel(LAYER_NORM_GRAD,
        { dy: dy as tf.Tensor, x: saved[0], gamma: saved[1] }, { epsilon }) as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, gamma, beta);
}

/**
 * `(x − mean) / sqrt(var + epsilon) · gamma + beta`, statistics over the last axis of `x`;
 * `gamma` and `beta` are `[d]`. Differentiable on every backend.
 *
 * @example
 * ```ts
 * layerNorm(tf.tensor2d([[1, 3]]), tf.ones([2]), tf.zeros([2]), 1e-6); // ≈ [[-1, 1]]
 * ```
 */
export function layerNorm(
  x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number,
): tf.Tensor {
  registerKernels();
  const fused = x.dtype === 'float32' && x.rank >= 1 && gamma.rank === 1 && beta.rank === 1 &&
    gamma.shape[0] === x.shape[x.rank - 1] && beta.shape[0] === gamma.shape[0] && hasFusedKernels();
  return fused ? layerNormFused(x, gamma, beta, epsilon) : layerNormByOps(x, gamma, beta, epsilon);
}
