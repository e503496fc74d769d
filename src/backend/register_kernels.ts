/**
 * Installs duet-tf's kernels and gradients into tfjs-core's global registries.
 */
import * as tf from '@tensorflow/tfjs-core';

import { registerNotDifferentiableGradients } from './gradients/not_differentiable';
import { registerTileGradient } from './gradients/tile_grad';
import { ADAM_KERNEL, simdAdam } from './kernels/AdamSimd';
import {
  ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, simdAttention, simdAttentionGrad,
} from './kernels/AttentionSimd';
import { simdBroadcastBinary } from './kernels/BroadcastBinarySimd';
import { simdCompare } from './kernels/CompareSimd';
import { identityWasmConfig } from './kernels/IdentityWasm';
import { rowGather } from './kernels/GatherV2Wasm';
import { transpositionFreeMatMul } from './kernels/MatMulWasm';
import { oneHotWasmConfig } from './kernels/OneHotWasm';
import { heapSlice } from './kernels/SliceWasm';
import { heapSplitV } from './kernels/SplitVWasm';
import { heapStridedSlice } from './kernels/StridedSliceWasm';
import { columnSum } from './kernels/SumWasm';
import { simdTanh } from './kernels/TanhWasm';
import { GRU_ENCODE_KERNEL, simdGruEncode } from './kernels/GruEncodeSimd';
import { GRU_SEQUENCE_KERNEL, simdGruSequence } from './kernels/GruSequenceSimd';
import {
  LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, simdLayerNorm, simdLayerNormGrad,
} from './kernels/LayerNormSimd';
import { heapUnpack } from './kernels/UnpackWasm';
import { unsortedSegmentSumCpuConfig } from './kernels/UnsortedSegmentSumCpu';
import { unsortedSegmentSumWasmConfig } from './kernels/UnsortedSegmentSumWasm';
import type { BackendName } from './types';

/** Kernels tfjs-backend-wasm 4.22 lacks for training; registered only where still missing. */
const WASM_MISSING: readonly tf.KernelConfig[] = [unsortedSegmentSumWasmConfig];
/** Kernels that replace tfjs-backend-wasm's own (copying Identity, OneHot ignoring dtype). */
const WASM_REPLACEMENTS: readonly tf.KernelConfig[] = [identityWasmConfig, oneHotWasmConfig];
/**
 * wasm kernels wrapped with a fast path for the common case (the original runs the rest):
 * transposed matMuls as a transpose plus the untransposed XNNPACK path, slices
 * that copy only the slice, not the whole input; row-copy gathers; column sums without transpose;
 * batched matMuls, weight gradients, Tanh, duet-tf's GRU recurrence (alone and with its input projection fused), layer norm, attention and Adam, row- or column-broadcast
 * Add/Sub/Multiply/RealDiv and comparisons (masks) through duet-tf's SIMD kernels (`kernels/simd/`).
 */
const WASM_FAST_PATHS: ReadonlyArray<readonly [string, (original: tf.KernelConfig) => tf.KernelConfig]> = [
  [tf.BatchMatMul, transpositionFreeMatMul],
  [tf._FusedMatMul, transpositionFreeMatMul],
  [tf.Slice, heapSlice],
  [tf.StridedSlice, heapStridedSlice],
  [tf.Unpack, heapUnpack],
  [tf.SplitV, heapSplitV],
  [tf.GatherV2, rowGather],
  [tf.Sum, columnSum],
  [tf.Tanh, simdTanh],
  [GRU_SEQUENCE_KERNEL, simdGruSequence],
  [GRU_ENCODE_KERNEL, simdGruEncode],
  [LAYER_NORM_KERNEL, simdLayerNorm],
  [LAYER_NORM_GRAD_KERNEL, simdLayerNormGrad],
  [ATTENTION_KERNEL, simdAttention],
  [ATTENTION_GRAD_KERNEL, simdAttentionGrad],
  [ADAM_KERNEL, simdAdam],
  [tf.Add, simdBroadcastBinary],
  [tf.Sub, simdBroadcastBinary],
  [tf.Multiply, simdBroadcastBinary],
  [tf.RealDiv, simdBroadcastBinary],
  ...[tf.Equal, tf.NotEqual, tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual]
    .map((name) => [name, simdCompare] as const),
];
/** Kernels that replace tfjs-backend-cpu's own (too slow). */
const CPU_REPLACEMENTS: readonly tf.KernelConfig[] = [unsortedSegmentSumCpuConfig];

/**
 * Registers duet-tf's kernels for one backend, plus zero gradients for comparison ops and a
 * Tile gradient in one sum instead of tfjs's slice-and-add per repetition (all backends). wasm: adds the kernels tfjs-backend-wasm lacks for training (UnsortedSegmentSum,
 * the gradient of `tf.gather`), replaces its copying Identity by a zero-copy one and its OneHot
 * (which ignores `dtype` float32) by a correct one, and runs
 * transposed matMuls (every matMul gradient) as a transpose plus the fast untransposed kernel;
 * Slice, StridedSlice, Unpack and SplitV copy only what they return (not the whole input),
 * GatherV2 copies rows and Sum over the batch axis skips its transpose. cpu:
 * replaces tfjs-backend-cpu's O(numSegments · rows · dim) UnsortedSegmentSum by a linear one.
 * tensorflow: gradients only. Idempotent; `useBackend` calls it for the backend it picks, so
 * call it yourself only when you choose backends with `tf.setBackend`.
 *
 * @example
 * ```ts
 * await tf.setBackend('wasm');
 * registerDuetKernels('wasm');
 * ```
 */
export function registerDuetKernels(backendName: BackendName): void {
  if (backendName !== 'tensorflow' && backendName !== 'wasm' && backendName !== 'cpu') {
    throw new Error(
      `'backendName' passed to 'registerDuetKernels' must be 'tensorflow', 'wasm' or 'cpu', ` +
        `got ${JSON.stringify(backendName)}`,
    );
  }
  registerNotDifferentiableGradients();
  registerTileGradient();
  if (backendName === 'wasm') {
    for (const config of WASM_MISSING) {
      if (tf.getKernel(config.kernelName, 'wasm') == null) tf.registerKernel(config);
    }
    WASM_REPLACEMENTS.forEach(replaceKernel);
    for (const [name, wrap] of WASM_FAST_PATHS) {
      const current = tf.getKernel(name, 'wasm');
      if (current != null) replaceKernel(wrap(current));
    }
  } else if (backendName === 'cpu') {
    CPU_REPLACEMENTS.forEach(replaceKernel);
  }
}

function replaceKernel(config: tf.KernelConfig): void {
  const current = tf.getKernel(config.kernelName, config.backendName);
  if (current?.kernelFunc === config.kernelFunc) return;
  if (current != null) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/**
 * Fills the holes only, on import of duet-tf: gradients tfjs lacks and kernels the wasm backend
 * lacks, so a model trains even when the app picked its backend with `tf.setBackend` rather than
 * `useBackend`. Nothing tfjs already has is replaced here.
 *
 * @example
 * ```ts
 * fillKernelGaps(); // idempotent; duet-tf calls it when imported
 * ```
 */
export function fillKernelGaps(): void {
  registerNotDifferentiableGradients();
  for (const config of WASM_MISSING) {
    if (tf.getKernel(config.kernelName, 'wasm') == null) tf.registerKernel(config);
  }
}
