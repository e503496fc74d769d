/**
 * Add, Sub, Multiply and RealDiv on tfjs-backend-wasm when one operand is broadcast along rows or
 * columns of the other, through duet-tf's SIMD kernel (kernels.c `bcast_binary`): a bias or a
 * position table added to every row (`[.., T, D] + [D]`, `+ [1, T, D]`), a mask or a layer norm's
 * statistics applied per row (`[.., T, D] · [.., T, 1]`). wasm's own kernels walk such broadcasts
 * through generic index arithmetic, 2–3× slower than the same operation on equal shapes. Equal
 * shapes, other broadcasts and other dtypes go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { heapOffset } from './heap_copy';
import { simdKernels } from './simd/simd_module';

/** The kernels handled, with their operation code in kernels.c. */
const OPS: Readonly<Record<string, number>> = { [tf.Add]: 0, [tf.Sub]: 1, [tf.Multiply]: 2, [tf.RealDiv]: 3 };

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** `shape` without its leading 1s. */
function stripLeadingOnes(shape: readonly number[]): readonly number[] {
  let i = 0;
  while (i < shape.length && shape[i] === 1) i++;
  return shape.slice(i);
}

/**
 * How `small` broadcasts over `full` (the output's shape): `{ perRow: false, cols }` when `small`
 * (leading 1s aside) is `full`'s last axes, repeated over the rows before them; `{ perRow: true,
 * cols }` when `small` is `full` with its last axes set to 1 (one value per row of `cols`).
 * Null for anything else.
 */
export function broadcastLayout(full: readonly number[], small: readonly number[]):
    { perRow: boolean; rows: number; cols: number } | null {
  const size = prod(full);
  const smallSize = prod(small);
  // Short rows would run the scalar tail of the kernel: wasm's own path is as good there.
  if (size === 0 || smallSize === size || small.length > full.length) return null;
  const core = stripLeadingOnes(small);
  const tail = full.slice(full.length - core.length);
  if (core.every((d, i) => d === tail[i])) {
    return smallSize < 4 ? null : { perRow: false, rows: size / smallSize, cols: smallSize };
  }
  // Per row: aligned right, small equals full up to some axis k, then only 1s.
  const aligned = [...new Array<number>(full.length - small.length).fill(1), ...small];
  let k = aligned.length;
  while (k > 0 && aligned[k - 1] === 1) k--;
  if (k === aligned.length) return null;
  for (let i = 0; i < k; i++) if (aligned[i] !== full[i]) return null;
  // Leading 1s of `small` would repeat rows, not give one value per row: only when full has 1s there too.
  if (prod(full.slice(0, k)) !== smallSize || size / smallSize < 4) return null;
  return { perRow: true, rows: smallSize, cols: size / smallSize };
}

const fastBinary = (op: number): FastPath => ({ inputs: { a, b }, backend }) => {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const size = prod(outShape);
  let full: tf.TensorInfo;
  let small: tf.TensorInfo;
  let swap: number;
  if (prod(a.shape) === size && a.shape.length === outShape.length) {
    [full, small, swap] = [a, b, 0];
  } else if (prod(b.shape) === size && b.shape.length === outShape.length) {
    [full, small, swap] = [b, a, 1];
  } else {
    return null;
  }
  const layout = broadcastLayout(outShape, small.shape);
  if (layout === null) return null;
  const simd = simdKernels(backend);
  if (simd === null) return null;
  const out = backend.makeOutput(outShape, 'float32');
  simd.bcast_binary(heapOffset(backend, full), heapOffset(backend, small), heapOffset(backend, out),
    layout.rows, layout.cols, op, layout.perRow ? 1 : 0, swap);
  return out;
};

/**
 * Wraps tfjs-backend-wasm's `Add`, `Sub`, `Multiply` or `RealDiv` config so that float32 operands
 * where one is broadcast per row or per column of the other run in the SIMD kernel.
 *
 * @param original The wasm backend's own config (`tf.getKernel('Add', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('Multiply', 'wasm')!;
 * tf.unregisterKernel('Multiply', 'wasm');
 * tf.registerKernel(simdBroadcastBinary(original));
 * ```
 */
export function simdBroadcastBinary(original: tf.KernelConfig): tf.KernelConfig {
  const op = OPS[original.kernelName];
  if (op === undefined) {
    throw new Error(`'original' passed to 'simdBroadcastBinary' must be wasm's Add, Sub, Multiply ` +
      `or RealDiv kernel, got ${original.kernelName}`);
  }
  return withFastPath(original, original.kernelName, fastBinary(op));
}
