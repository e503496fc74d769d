/**
 * duet-tf's fused attention kernels (`DuetAttention` and `DuetAttentionGrad`, registered for wasm
 * by `layers/ops/attention.ts`) through the SIMD module's `attention_forward` and
 * `attention_backward`: per head, the keys and values are copied once into small dense blocks and
 * every query row's scores, softmax and weighted sum run in registers; causal rows stop at their
 * own position.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/**
 * The kernels' names (the layers' `ATTENTION`, `ATTENTION_GRAD`; the backend cannot import layers).
 *
 * @example
 * ```ts
 * tf.getKernel(ATTENTION_KERNEL, 'wasm');
 * ```
 */
export const ATTENTION_KERNEL = 'DuetAttention';
/**
 * See {@link ATTENTION_KERNEL}.
 *
 * @example
 * ```ts
 * tf.getKernel(ATTENTION_GRAD_KERNEL, 'wasm');
 * ```
 */
export const ATTENTION_GRAD_KERNEL = 'DuetAttentionGrad';

interface Attrs { numHeads: number; scale: number; causal: boolean; hasMask: boolean; hasKeep: boolean }

/** Sizes when the SIMD kernels take the call (float32 everywhere, consistent shapes, keyDim % 4 = 0). */
function plan(inputs: Record<string, tf.TensorInfo>, a: Attrs):
    { b: number; tq: number; tv: number; h: number; dk: number } | null {
  const { q, k, v, mask, keep } = inputs;
  const used = [q, k, v, ...(a.hasMask ? [mask] : []), ...(a.hasKeep ? [keep] : [])];
  if (used.some((t) => t === undefined || t.dtype !== 'float32')) return null;
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3) return null;
  const [b, tq, width] = q.shape;
  const tv = k.shape[1];
  const h = a.numHeads;
  if (width % h !== 0 || (width / h) % 4 !== 0) return null;
  const same = (s: readonly number[], e: number[]) => s.length === e.length && s.every((d, i) => d === e[i]);
  if (!same(k.shape, [b, tv, width]) || !same(v.shape, [b, tv, width])) return null;
  if (a.hasMask && !same(mask.shape, [b, tv])) return null;
  if (a.hasKeep && !same(keep.shape, [b, h, tq, tv])) return null;
  return { b, tq, tv, h, dk: width / h };
}

type Wasm = { _malloc(n: number): number; _free(p: number): void };

const forward: FastPath = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as Attrs;
  const p = plan(inputs, a);
  const simd = p === null ? null : simdKernels(backend);
  if (p === null || simd === null) return null;
  const out = backend.makeOutput([...inputs.q.shape], 'float32');
  const wasm = backend.wasm as unknown as Wasm;
  const tvp = Math.ceil(p.tv / 4) * 4;
  const scratch = wasm._malloc((2 * tvp * p.dk + 3 * tvp) * 4);
  const at = (t: tf.TensorInfo | undefined, used: boolean) => (used && t !== undefined ? heapOffset(backend, t) : 0);
  try {
    simd.attention_forward(heapOffset(backend, inputs.q), heapOffset(backend, inputs.k), heapOffset(backend, inputs.v),
      at(inputs.mask, a.hasMask), at(inputs.keep, a.hasKeep), heapOffset(backend, out), scratch,
      p.b, p.tq, p.tv, p.h, p.dk, a.scale, a.causal ? 1 : 0);
  } finally {
    wasm._free(scratch);
  }
  return out;
};

const gradient: FastPath = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as Attrs;
  const p = plan(inputs, a);
  if (p === null || inputs.dy?.dtype !== 'float32') return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const dq = backend.makeOutput([...inputs.q.shape], 'float32');
  const dk = backend.makeOutput([...inputs.k.shape], 'float32');
  const dv = backend.makeOutput([...inputs.v.shape], 'float32');
  const wasm = backend.wasm as unknown as Wasm;
  const tvp = Math.ceil(p.tv / 4) * 4;
  const scratch = wasm._malloc((6 * tvp * p.dk + 5 * tvp) * 4);
  const at = (t: tf.TensorInfo | undefined, used: boolean) => (used && t !== undefined ? heapOffset(backend, t) : 0);
  try {
    simd.attention_backward(heapOffset(backend, inputs.dy), heapOffset(backend, inputs.q),
      heapOffset(backend, inputs.k), heapOffset(backend, inputs.v), at(inputs.mask, a.hasMask),
      at(inputs.keep, a.hasKeep), heapOffset(backend, dq), heapOffset(backend, dk), heapOffset(backend, dv),
      scratch, p.b, p.tq, p.tv, p.h, p.dk, a.scale, a.causal ? 1 : 0);
  } finally {
    wasm._free(scratch);
  }
  return [dq, dk, dv];
};

/**
 * Wraps the wasm `DuetAttention` config so that float32 inputs with a head size divisible by 4
 * run in the SIMD kernel (float32 sums; the JavaScript kernel's are float64).
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdAttention(tf.getKernel('DuetAttention', 'wasm')!);
 * ```
 */
export function simdAttention(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, ATTENTION_KERNEL, forward);
}

/**
 * Wraps the wasm `DuetAttentionGrad` config the same way as {@link simdAttention}.
 *
 * @param original The registered wasm config.
 * @returns The wrapped config.
 * @example
 * ```ts
 * const wrapped = simdAttentionGrad(tf.getKernel('DuetAttentionGrad', 'wasm')!);
 * ```
 */
export function simdAttentionGrad(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, ATTENTION_GRAD_KERNEL, gradient);
}
