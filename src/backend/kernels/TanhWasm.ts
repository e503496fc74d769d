/**
 * Tanh for tfjs-backend-wasm through duet-tf's SIMD kernel (kernels.c `tanh_f32`: four lanes of
 * `1 − 2/(e^{2|x|} + 1)` with a polynomial exp). wasm's own Tanh calls libm per element, about
 * 7 ns each — the GRU's gates and the generator's sequence transform run it over
 * `[batch, 30, 32]`. Within 2e-7 of `Math.tanh`; NaN, ±0 and ±Infinity keep their values.
 */
import * as tf from '@tensorflow/tfjs-core';

import { withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * Wraps wasm's `Tanh` config so that float32 inputs run through the SIMD kernel.
 *
 * @param original wasm's own config (`tf.getKernel('Tanh', 'wasm')`).
 * @returns The wrapped config (the original runs whatever the fast path declines).
 * @example
 * ```ts
 * tf.registerKernel(simdTanh(tf.getKernel('Tanh', 'wasm')!)); // after unregistering the original
 * ```
 */
export function simdTanh(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.Tanh, ({ inputs, backend }) => {
    const { x } = inputs;
    if (x.dtype !== 'float32') return null;
    const simd = simdKernels(backend);
    if (simd === null) return null;
    const out = backend.makeOutput([...x.shape], 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) simd.tanh_f32(heapOffset(backend, x), heapOffset(backend, out), n);
    return out;
  });
}
