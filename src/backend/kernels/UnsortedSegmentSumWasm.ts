/**
 * UnsortedSegmentSum for tfjs-backend-wasm, which ships none (4.22): without it the gradient of
 * `tf.gather` (every embedding lookup) cannot be computed on wasm. Runs in JavaScript over the
 * wasm heap, as tfjs-backend-wasm's own JS kernels do.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { type NumericArray, planSegmentSum, segmentSumInto } from './unsorted_segment_sum_impl';

function unsortedSegmentSumWasm(args: {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: BackendWasm;
  attrs: tf.UnsortedSegmentSumAttrs;
}): tf.TensorInfo {
  const { inputs: { x, segmentIds }, backend, attrs: { numSegments } } = args;
  const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
  // float32 whatever x's dtype, as tfjs-backend-cpu returns.
  const out = backend.makeOutput(plan.outShape, 'float32');
  // Views only after the allocation: growing the heap detaches earlier views.
  const outVals = backend.typedArrayFromHeap(out) as Float32Array;
  const xVals = backend.typedArrayFromHeap(x) as NumericArray;
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  segmentSumInto(xVals, ids, plan, outVals);
  return out;
}

/**
 * Kernel config of duet-tf's UnsortedSegmentSum for the `'wasm'` backend (registered by
 * `registerDuetKernels('wasm')`, which `useBackend` calls).
 *
 * @example
 * ```ts
 * if (tf.getKernel('UnsortedSegmentSum', 'wasm') == null) tf.registerKernel(unsortedSegmentSumWasmConfig);
 * ```
 */
export const unsortedSegmentSumWasmConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
};
