/**
 * Transposition-free matMul for tfjs-backend-wasm. Its `BatchMatMul` and `_FusedMatMul` kernels
 * take XNNPACK's fast fully-connected path only for an untransposed product of single matrices;
 * with `transposeA` or `transposeB` — the two products of every matMul gradient, `Xᵀ·dY` and
 * `dY·Wᵀ` — they fall back to a scalar blocked loop, 6–10× slower (docs/PERFORMANCE.md, kernel
 * micro-benchmarks). Transposing the operand first with wasm's `Transpose` kernel (one pass over
 * memory) and calling the original kernel untransposed gives the same values through the fast
 * path. Batched products (a batch dimension above 1), which wasm runs through a scalar loop in
 * every form, and `Xᵀ·Y` (the weight gradient, where XNNPACK packs the fresh `Y` as weights every
 * call and runs only `M` rows) go to duet-tf's SIMD kernels (`BatchedMatMulSimd.ts`) where they run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { simdBatchedMatMul, simdWeightGradient } from './BatchedMatMulSimd';
import { hasFastPath, withFastPath, type WasmKernelArgs } from './fast_path';

function batchSize(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length - 2; i++) size *= shape[i];
  return size;
}

/** `x` with its last two axes swapped, through the backend's own Transpose kernel. */
function swapLastAxes(x: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo {
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (transpose == null) throw new Error("tfjs-backend-wasm registered no 'Transpose' kernel");
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * Wraps tfjs-backend-wasm's `BatchMatMul` or `_FusedMatMul` kernel config so that transposed
 * products of single matrices run untransposed on a transposed copy of the operand.
 *
 * @param original The wasm backend's own kernel config (`tf.getKernel('BatchMatMul', 'wasm')`).
 * @returns A config for the same kernel name and backend (built with `withFastPath`, which hands
 *   every other call to `original`); `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('BatchMatMul', 'wasm')!;
 * tf.unregisterKernel('BatchMatMul', 'wasm');
 * tf.registerKernel(transpositionFreeMatMul(original));
 * ```
 */
export function transpositionFreeMatMul(original: tf.KernelConfig): tf.KernelConfig {
  if (original.backendName !== 'wasm' ||
      (original.kernelName !== tf.BatchMatMul && original.kernelName !== tf._FusedMatMul)) {
    throw new Error(
      `transpositionFreeMatMul wraps wasm's BatchMatMul or _FusedMatMul, got ` +
        `${original.kernelName} for ${original.backendName}`,
    );
  }
  const run = original.kernelFunc;
  return withFastPath(original, original.kernelName, (args: WasmKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (batchSize(a.shape) !== 1 || batchSize(b.shape) !== 1) return simdBatchedMatMul(args);
    if (!transposeA && !transposeB) return null;
    if (transposeA && !transposeB) {
      const product = simdWeightGradient(args);
      if (product !== null) return product;
    }
    const aT = transposeA ? swapLastAxes(a, backend) : a;
    const bT = transposeB ? swapLastAxes(b, backend) : b;
    try {
      return run({
        inputs: { ...inputs, a: aT, b: bT },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    } finally {
      // Disposing the copies also drops the XNNPACK operator wasm cached on `bT`.
      if (aT !== a) backend.disposeData(aT.dataId);
      if (bT !== b) backend.disposeData(bT.dataId);
    }
  });
}

/**
 * Whether `config` is a kernel built by {@link transpositionFreeMatMul}.
 *
 * @example
 * ```ts
 * isTranspositionFree(tf.getKernel('BatchMatMul', 'wasm')!); // true after useBackend('wasm')
 * ```
 */
export function isTranspositionFree(config: tf.KernelConfig | undefined): boolean {
  return hasFastPath(config) &&
    (config?.kernelName === tf.BatchMatMul || config?.kernelName === tf._FusedMatMul);
}
