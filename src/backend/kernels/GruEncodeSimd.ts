/**
 * duet-tf's `DuetGruEncode` kernel (a GRU's input projection and masked recurrence at inference;
 * registered for wasm by `layers/ops/gru_encode_kernels.ts`) through the SIMD module's
 * `gru_encode`: the projection `x_t·W + b` of each valid step is computed inside the recurrence,
 * four rows at a time, instead of an XNNPACK matMul over every step, padding included, whose
 * `[batch, time, 3·units]` result the recurrence then reads back.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * The kernel's name (the layers' `GRU_ENCODE`; the backend cannot import layers).
 *
 * @example
 * ```ts
 * tf.getKernel(GRU_ENCODE_KERNEL, 'wasm');
 * ```
 */
export const GRU_ENCODE_KERNEL = 'DuetGruEncode';

/**
 * Wraps the wasm `DuetGruEncode` config so that float32 inputs with a float32 or int32 mask and
 * a unit count divisible by 4 run in the fused SIMD kernel (float32 sums in another order than
 * XNNPACK's: the two differ by rounding, ≈ 1e-7).
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdGruEncode(tf.getKernel('DuetGruEncode', 'wasm')!);
 * ```
 */
export function simdGruEncode(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, GRU_ENCODE_KERNEL, ({ inputs, backend }) => {
    const { x, kernel, bias, recurrent, mask } = inputs;
    if ([x, kernel, bias, recurrent].some((t) => t.dtype !== 'float32') ||
        (mask.dtype !== 'float32' && mask.dtype !== 'int32')) return null;
    if (x.shape.length !== 3 || kernel.shape.length !== 2 || bias.shape.length !== 1 ||
        recurrent.shape.length !== 2 || mask.shape.length !== 2) return null;
    const [batch, time, dim] = x.shape;
    const units = recurrent.shape[0];
    const width = 3 * units;
    // Shapes the original checks and reports are left to it.
    if (units % 4 !== 0 || units === 0 || recurrent.shape[1] !== width || kernel.shape[0] !== dim ||
        kernel.shape[1] !== width || bias.shape[0] !== width || mask.shape[0] !== batch ||
        mask.shape[1] !== time) return null;
    const simd = simdKernels(backend);
    if (simd === null) return null;
    const out = backend.makeOutput([batch, units], 'float32');
    if (batch === 0) return out;
    const wasm = backend.wasm as unknown as { _malloc(n: number): number; _free(p: number): void };
    const scratch = wasm._malloc(28 * units * 4);
    try {
      simd.gru_encode(heapOffset(backend, x), heapOffset(backend, kernel), heapOffset(backend, bias),
        heapOffset(backend, recurrent), heapOffset(backend, mask), heapOffset(backend, out), scratch,
        batch, time, dim, units);
    } finally {
      wasm._free(scratch);
    }
    return out;
  });
}
