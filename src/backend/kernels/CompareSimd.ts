/**
 * Equal, NotEqual, Greater, GreaterEqual, Less and LessEqual on tfjs-backend-wasm for equal
 * shapes or against a scalar, through duet-tf's SIMD kernel (kernels.c `compare`): every mask
 * (`ids > 0`, `mask != 0`) is such a comparison. wasm's own kernels walk even a scalar broadcast
 * through generic index arithmetic, ≈ 8 ns per element. Other broadcasts and mixed or other
 * dtypes go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/** The kernels handled, with their code in kernels.c, and the code with the operands swapped. */
const OPS: Readonly<Record<string, { op: number; swapped: number }>> = {
  [tf.Equal]: { op: 0, swapped: 0 },
  [tf.NotEqual]: { op: 1, swapped: 1 },
  [tf.Greater]: { op: 2, swapped: 4 },
  [tf.GreaterEqual]: { op: 3, swapped: 5 },
  [tf.Less]: { op: 4, swapped: 2 },
  [tf.LessEqual]: { op: 5, swapped: 3 },
};

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const fastCompare = (codes: { op: number; swapped: number }): FastPath => ({ inputs: { a, b }, backend }) => {
  if (a.dtype !== b.dtype || (a.dtype !== 'float32' && a.dtype !== 'int32')) return null;
  const sizeA = prod(a.shape);
  const sizeB = prod(b.shape);
  let first = a;
  let second = b;
  let op = codes.op;
  let step = 1;
  if (a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) {
    step = 1;
  } else if (sizeB === 1 && b.shape.length <= a.shape.length) {
    step = 0;
  } else if (sizeA === 1 && a.shape.length <= b.shape.length) {
    [first, second, op, step] = [b, a, codes.swapped, 0];
  } else {
    return null;
  }
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const out = backend.makeOutput([...first.shape], 'bool');
  const n = prod(first.shape);
  if (n > 0) {
    simd.compare(heapOffset(backend, first), heapOffset(backend, second), heapOffset(backend, out), n,
      step, op, a.dtype === 'int32' ? 1 : 0);
  }
  return out;
};

/**
 * Wraps one of tfjs-backend-wasm's comparison configs (`Equal`, `NotEqual`, `Greater`,
 * `GreaterEqual`, `Less`, `LessEqual`) so that float32 or int32 operands of equal shapes, or one
 * against a scalar, are compared in the SIMD kernel.
 *
 * @param original The wasm backend's own config (`tf.getKernel('Greater', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('Greater', 'wasm')!;
 * tf.unregisterKernel('Greater', 'wasm');
 * tf.registerKernel(simdCompare(original));
 * ```
 */
export function simdCompare(original: tf.KernelConfig): tf.KernelConfig {
  const codes = OPS[original.kernelName];
  if (codes === undefined) {
    throw new Error(`'original' passed to 'simdCompare' must be one of wasm's comparison kernels ` +
      `(${Object.keys(OPS).join(', ')}), got ${original.kernelName}`);
  }
  return withFastPath(original, original.kernelName, fastCompare(codes));
}
