/**
 * duet-tf's `DuetGruSequence` kernel (a whole masked GRU recurrence at inference; registered for
 * wasm by `layers/ops/gru_sequence_wasm.ts`) through the SIMD module's `gru_sequence`: one call
 * for the whole sequence instead of JavaScript gate loops around two XNNPACK products per step.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * The kernel's name (the layers' `GRU_SEQUENCE`; the backend cannot import layers).
 *
 * @example
 * ```ts
 * tf.getKernel(GRU_SEQUENCE_KERNEL, 'wasm');
 * ```
 */
export const GRU_SEQUENCE_KERNEL = 'DuetGruSequence';

/**
 * Wraps the wasm `DuetGruSequence` config so that float32 inputs with a float32 or int32 mask and
 * a unit count divisible by 4 run in the SIMD kernel (float32 sums; the JavaScript path sums in
 * float64: the two differ by rounding, ≈ 1e-7).
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdGruSequence(tf.getKernel('DuetGruSequence', 'wasm')!);
 * ```
 */
export function simdGruSequence(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, GRU_SEQUENCE_KERNEL, ({ inputs, backend }) => {
    const { x, recurrent, mask } = inputs;
    if (x.dtype !== 'float32' || recurrent.dtype !== 'float32' ||
        (mask.dtype !== 'float32' && mask.dtype !== 'int32')) return null;
    if (x.shape.length !== 3 || recurrent.shape.length !== 2 || mask.shape.length !== 2) return null;
    const [batch, time, width] = x.shape;
    const units = recurrent.shape[0];
    // Shapes the original checks and reports are left to it.
    if (units % 4 !== 0 || units === 0 || width !== 3 * units || recurrent.shape[1] !== width ||
        mask.shape[0] !== batch || mask.shape[1] !== time) return null;
    const simd = simdKernels(backend);
    if (simd === null) return null;
    const out = backend.makeOutput([batch, units], 'float32');
    if (batch === 0) return out;
    const wasm = backend.wasm as unknown as { _malloc(n: number): number; _free(p: number): void };
    const scratch = wasm._malloc(16 * units * 4);
    try {
      simd.gru_sequence(heapOffset(backend, x), heapOffset(backend, recurrent), heapOffset(backend, mask),
        heapOffset(backend, out), scratch, batch, time, units);
    } finally {
      wasm._free(scratch);
    }
    return out;
  });
}
