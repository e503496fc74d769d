/**
 * Copies between tensors on tfjs-backend-wasm's heap, in JavaScript, without the whole-tensor
 * copy to a JS array that wasm's own slicing kernels make first (`backend.readSync`). The core
 * of duet-tf's wasm Slice, StridedSlice, Unpack, SplitV and GatherV2.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The dtypes whose values live on the wasm heap (strings live in JS).
 *
 * @example
 * ```ts
 * const dtype: HeapDtype = 'int32';
 * ```
 */
export type HeapDtype = 'float32' | 'int32' | 'bool';

/**
 * Whether a tensor's values live on the wasm heap, so that the kernels here can copy them.
 *
 * @example
 * ```ts
 * isHeapDtype('string'); // false
 * ```
 */
export function isHeapDtype(dtype: tf.DataType): dtype is HeapDtype {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** Runs shorter than this many bytes are copied element by element (measured: a call costs more). */
const MIN_BLOCK_BYTES = 32;

/**
 * Byte-level access to the heap: `u8` for block copies, `i32` for element copies of 4-byte
 * dtypes. Views must be taken after the last allocation, since growing the heap detaches them.
 *
 * @example
 * ```ts
 * const out = backend.makeOutput([2], 'float32');
 * const heap = heapViews(backend); // after makeOutput
 * ```
 */
export interface HeapViews {
  /** The whole heap, bytes. */
  u8: Uint8Array;
  /** The whole heap, 4-byte words. */
  i32: Int32Array;
}

/**
 * Fresh views of the wasm heap.
 *
 * @example
 * ```ts
 * const { u8 } = heapViews(backend);
 * ```
 */
export function heapViews(backend: BackendWasm): HeapViews {
  // Emscripten's heap; the module's type in tfjs-backend-wasm does not declare it.
  const u8 = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  return { u8, i32: new Int32Array(u8.buffer, 0, u8.byteLength >>> 2) };
}

/**
 * The byte offset of a tensor's values on the heap.
 *
 * @example
 * ```ts
 * const at = heapOffset(backend, x);
 * ```
 */
export function heapOffset(backend: BackendWasm, x: tf.TensorInfo): number {
  return backend.dataIdMap.get(x.dataId)!.memoryOffset;
}

/**
 * Copies `bytes` bytes from heap offset `src` to `dst` (non-overlapping): one `copyWithin` for a
 * long run, a word or byte loop for a short one.
 *
 * @example
 * ```ts
 * copyRun(heapViews(backend), from, to, 96 * 4, 4);
 * ```
 */
export function copyRun(heap: HeapViews, src: number, dst: number, bytes: number,
    bytesPerElement: number): void {
  if (bytes >= MIN_BLOCK_BYTES) {
    heap.u8.copyWithin(dst, src, src + bytes);
  } else if (bytesPerElement === 4) {
    // Words, not floats: a float32 copy could canonicalise NaN payloads.
    const words = heap.i32;
    const s = src >>> 2;
    const d = dst >>> 2;
    const n = bytes >>> 2;
    for (let k = 0; k < n; k++) words[d + k] = words[s + k];
  } else {
    const b = heap.u8;
    for (let k = 0; k < bytes; k++) b[dst + k] = b[src + k];
  }
}

/**
 * Copies the block `[begin, begin + size)` of a row-major tensor of `shape` whose values start at
 * heap offset `src` into a dense tensor at heap offset `dst`. Trailing axes taken whole are
 * merged into one run, so each run is as long as the layout allows; only the block is read.
 *
 * @example
 * ```ts
 * // Column 1 of a 3×2 float32 matrix: three runs of one element.
 * copyBlock(heapViews(backend), from, [3, 2], [0, 1], [3, 1], to, 4);
 * ```
 */
export function copyBlock(heap: HeapViews, src: number, shape: readonly number[],
    begin: readonly number[], size: readonly number[], dst: number, bytesPerElement: number): void {
  const rank = shape.length;
  let count = 1;
  for (const s of size) count *= s;
  if (count === 0) return;
  if (rank === 0) {
    copyRun(heap, src, dst, bytesPerElement, bytesPerElement);
    return;
  }
  // Element strides of the source, and the outermost axis k of the contiguous run: every axis
  // after k is taken whole (so its begin is 0).
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k]) k--;
  const runBytes = size[k] * strides[k] * bytesPerElement;
  let from = src;
  for (let d = 0; d <= k; d++) from += begin[d] * strides[d] * bytesPerElement;
  let to = dst;
  if (k === 0) {
    copyRun(heap, from, to, runBytes, bytesPerElement);
    return;
  }
  // An odometer over axes 0..k-1 of the block.
  const steps = strides.slice(0, k).map((s) => s * bytesPerElement);
  const counts = size.slice(0, k);
  const index = new Array<number>(k).fill(0);
  const outer = counts.reduce((a, b) => a * b, 1);
  for (let r = 0; r < outer; r++) {
    copyRun(heap, from, to, runBytes, bytesPerElement);
    to += runBytes;
    for (let d = k - 1; d >= 0; d--) {
      from += steps[d];
      if (++index[d] < counts[d]) break;
      from -= steps[d] * counts[d];
      index[d] = 0;
    }
  }
}

/**
 * A new tensor holding the block `[begin, begin + size)` of `x` (float32, int32 or bool), with
 * shape `outShape` (same size; `size` by default). `begin` and `size` must be valid and explicit
 * (no -1): `tf.slice_util.parseSliceParams` makes them so.
 *
 * @example
 * ```ts
 * const row = sliceOnHeap(backend, x, [1, 0], [1, 4], [4]); // row 1 of a [3, 4] tensor
 * ```
 */
export function sliceOnHeap(backend: BackendWasm, x: tf.TensorInfo, begin: readonly number[],
    size: readonly number[], outShape: readonly number[] = size): tf.TensorInfo {
  const out = backend.makeOutput([...outShape], x.dtype);
  // Offsets stay valid when the heap grows; views do not, so they are taken after makeOutput.
  copyBlock(heapViews(backend), heapOffset(backend, x), x.shape, begin, size,
    heapOffset(backend, out), tf.util.bytesPerElement(x.dtype));
  return out;
}
