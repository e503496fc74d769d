/**
 * GatherV2 (`tf.gather`, every embedding lookup) for tfjs-backend-wasm as row copies on the heap:
 * in the SIMD module (`gather_rows`) for 4-byte dtypes, else one `copyWithin` per row. wasm's own
 * kernel copies the indices to JS, then gathers element by element through generic strides:
 * 60–70 ms for 30,720 rows of a [10001, 32] table. Gathers with batch dimensions still go to the
 * original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type FastPath, withFastPath } from './fast_path';
import { copyRun, heapOffset, heapViews, isHeapDtype } from './heap_copy';
import { simdKernels } from './simd/simd_module';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const fastGather: FastPath = ({ inputs: { x, indices }, backend, attrs }) => {
  const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
  if (!isHeapDtype(x.dtype) || indices.dtype !== 'int32' || (batchDims ?? 0) !== 0) return null;
  const a = tf.util.parseAxisParam(axis, x.shape)[0];
  const axisDim = x.shape[a];
  const count = prod(indices.shape);
  const outShape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const bytesPerElement = tf.util.bytesPerElement(x.dtype);
  const outer = prod(x.shape.slice(0, a));
  const rowElements = prod(x.shape.slice(a + 1));
  const simd = bytesPerElement === 4 ? simdKernels(backend) : null;
  if (simd !== null) {
    const out = backend.makeOutput(outShape, x.dtype);
    const ids = heapOffset(backend, indices);
    for (let o = 0; o < outer; o++) {
      const bad = simd.gather_rows(heapOffset(backend, x) + o * axisDim * rowElements * 4, ids,
        heapOffset(backend, out) + o * count * rowElements * 4, count, axisDim, rowElements);
      if (bad >= 0) {
        backend.disposeData(out.dataId);
        const id = heapViews(backend).i32[(ids >>> 2) + bad];
        throw new Error(`GatherV2: the index value ${id} is not in [0, ${axisDim - 1}]`);
      }
    }
    return out;
  }
  let ids = heapViews(backend).i32.subarray(heapOffset(backend, indices) >>> 2);
  // The same check, and message, as the original kernel and tfjs-backend-cpu.
  for (let i = 0; i < count; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < axisDim)) {
      throw new Error(`GatherV2: the index value ${id} is not in [0, ${axisDim - 1}]`);
    }
  }
  const out = backend.makeOutput(outShape, x.dtype);
  const heap = heapViews(backend);
  ids = heap.i32.subarray(heapOffset(backend, indices) >>> 2);
  const rowBytes = rowElements * bytesPerElement;
  const src = heapOffset(backend, x);
  let dst = heapOffset(backend, out);
  for (let o = 0; o < outer; o++) {
    const block = src + o * axisDim * rowBytes;
    for (let i = 0; i < count; i++) {
      copyRun(heap, block + ids[i] * rowBytes, dst, rowBytes, bytesPerElement);
      dst += rowBytes;
    }
  }
  return out;
};

/**
 * Wraps tfjs-backend-wasm's `GatherV2` kernel config so that gathers without batch dimensions
 * (any axis; float32, int32 or bool values; int32 indices) copy whole rows on the heap. An index
 * outside `[0, x.shape[axis])` throws the original kernel's error.
 *
 * @param original The wasm backend's own config (`tf.getKernel('GatherV2', 'wasm')`).
 * @returns A config for the same kernel; `original` itself if already wrapped.
 *
 * @example
 * ```ts
 * const original = tf.getKernel('GatherV2', 'wasm')!;
 * tf.unregisterKernel('GatherV2', 'wasm');
 * tf.registerKernel(rowGather(original));
 * ```
 */
export function rowGather(original: tf.KernelConfig): tf.KernelConfig {
  return withFastPath(original, tf.GatherV2, fastGather);
}
