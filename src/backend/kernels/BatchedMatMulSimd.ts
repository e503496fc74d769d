/**
 * Batched matMul (a batch dimension above 1, e.g. attention's per-sample, per-head products
 * `[batch·heads, T, d] · [batch·heads, d, T]`) on tfjs-backend-wasm through duet-tf's SIMD
 * kernel (kernels.c `bmm`), in place on the wasm heap. tfjs-backend-wasm runs every batched
 * product through a scalar loop (its XNNPACK path takes single matrices only), 5–15× slower.
 * Transposed operands are read with strides (the right one gathered once per batch item).
 * Fused products add their bias and activation with wasm's own kernels afterwards: wasm's batched
 * fused matMul adds the bias wrongly (row i > 0 of each product gets the bias's last element,
 * found by the parity test here), so it must never run batched.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import type { WasmKernelArgs } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

function outerSize(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length - 2; i++) size *= shape[i];
  return size;
}

/** wasm kernels applying a fused matMul's activation: name → (x, attrs of the fused call) → args. */
const ACTIVATIONS: Record<string, (x: tf.TensorInfo, inputs: WasmKernelArgs['inputs'], attrs: WasmKernelArgs['attrs']) =>
    { kernel: string; inputs: Record<string, tf.TensorInfo>; attrs: Record<string, unknown> }> = {
  relu: (x) => ({ kernel: tf.Relu, inputs: { x }, attrs: {} }),
  relu6: (x) => ({ kernel: tf.Relu6, inputs: { x }, attrs: {} }),
  elu: (x) => ({ kernel: tf.Elu, inputs: { x }, attrs: {} }),
  sigmoid: (x) => ({ kernel: tf.Sigmoid, inputs: { x }, attrs: {} }),
  leakyrelu: (x, _, attrs) => ({ kernel: tf.LeakyRelu, inputs: { x }, attrs: { alpha: attrs.leakyreluAlpha ?? 0.2 } }),
  prelu: (x, inputs) => ({ kernel: tf.Prelu, inputs: { x, alpha: inputs.preluActivationWeights }, attrs: {} }),
};

function runWasm(kernel: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>,
    backend: BackendWasm): tf.TensorInfo {
  const config = tf.getKernel(kernel, 'wasm');
  if (config == null) throw new Error(`tfjs-backend-wasm registered no '${kernel}' kernel`);
  return config.kernelFunc({ inputs, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/**
 * The product of a `BatchMatMul` / `_FusedMatMul` call through the SIMD kernel (then the fused
 * bias and activation, if any), or null to let the original kernel run it (non-float32, batch
 * dims broadcasting other than from 1, an unknown activation, no SIMD module).
 *
 * @example
 * ```ts
 * const out = simdBatchedMatMul(args) ?? original(args);
 * ```
 */
export function simdBatchedMatMul({ inputs, backend, attrs }: WasmKernelArgs): tf.TensorInfo | null {
  const { a, b } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (activation !== 'linear' && ACTIVATIONS[activation] === undefined) return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // the original kernel reports the mismatch
  const batchA = outerSize(a.shape);
  const batchB = outerSize(b.shape);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  if (batch * m * n === 0) return out;
  const denseB = !transposeB;
  const scratch = denseB || k * n === 0 ? 0 : (backend.wasm as unknown as { _malloc(n: number): number })._malloc(k * n * 4);
  try {
    simd.bmm(heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), scratch,
      batch, m, k, n,
      batchA === 1 ? 0 : m * k, transposeA ? 1 : k, transposeA ? m : 1,
      batchB === 1 ? 0 : k * n, transposeB ? 1 : n, transposeB ? k : 1);
  } finally {
    if (scratch !== 0) (backend.wasm as unknown as { _free(p: number): void })._free(scratch);
  }
  let result = out;
  if (inputs.bias != null) {
    result = runWasm(tf.Add, { a: out, b: inputs.bias }, {}, backend);
    backend.disposeData(out.dataId);
  }
  if (activation !== 'linear') {
    const { kernel, inputs: xs, attrs: as } = ACTIVATIONS[activation](result, inputs, attrs);
    const activated = runWasm(kernel, xs, as, backend);
    backend.disposeData(result.dataId);
    result = activated;
  }
  return result;
}

/**
 * `Xᵀ·Y` of two single matrices (a `BatchMatMul` with `transposeA` only, no bias or activation)
 * through the SIMD kernel `gemm_tn`, or null to let the caller run it otherwise. This is every
 * dense layer's weight gradient: `[rows, in]ᵀ · [rows, out]` with many rows; kernels.c tiles it in
 * registers over blocks of rows, 1.5–3× faster than transposing and calling XNNPACK.
 *
 * @example
 * ```ts
 * const out = simdWeightGradient(args) ?? transposeThenMatMul(args);
 * ```
 */
export function simdWeightGradient({ inputs, backend, attrs }: WasmKernelArgs): tf.TensorInfo | null {
  const { a, b } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || inputs.bias != null) return null;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (activation !== 'linear' || attrs.transposeA !== true || attrs.transposeB === true) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2 || outerSize(a.shape) !== 1 || outerSize(b.shape) !== 1) return null;
  const rows = a.shape[ra - 2];
  if (b.shape[rb - 2] !== rows) return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const m = a.shape[ra - 1];
  const n = b.shape[rb - 1];
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outer, m, n], 'float32');
  if (m * n > 0) simd.gemm_tn(heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), rows, m, n);
  return out;
}

/** Whether `backend` can run {@link simdBatchedMatMul} (the SIMD module instantiated on its memory). */
export function hasSimdMatMul(backend: BackendWasm): boolean {
  return simdKernels(backend) !== null;
}
