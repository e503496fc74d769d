/**
 * A linear-time UnsortedSegmentSum for tfjs-backend-cpu, whose own kernel makes one masked pass
 * over all rows per segment: O(numSegments · rows · dim), over an hour for the gradient of a
 * 12k-item embedding looked up 120k times. Same values (float64 sums in the same row order),
 * except that a NaN or ±Infinity stays in its own segment instead of reaching all of them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { type NumericArray, planSegmentSum, segmentSumInto } from './unsorted_segment_sum_impl';

function unsortedSegmentSumCpu(args: {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: MathBackendCPU;
  attrs: tf.UnsortedSegmentSumAttrs;
}): tf.TensorInfo {
  const { inputs: { x, segmentIds }, backend, attrs: { numSegments } } = args;
  if (x.dtype === 'complex64' || x.dtype === 'string') {
    throw new Error(`'x' passed to 'UnsortedSegmentSum' must be numeric, got ${x.dtype}`);
  }
  const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
  const outVals = new Float32Array(plan.outShape.reduce((a, b) => a * b, 1));
  const xVals = backend.data.get(x.dataId).values as NumericArray;
  const ids = backend.data.get(segmentIds.dataId).values as Int32Array;
  segmentSumInto(xVals, ids, plan, outVals);
  // float32 whatever x's dtype, as the kernel this replaces returns.
  return backend.makeTensorInfo(plan.outShape, 'float32', outVals);
}

/**
 * Kernel config of duet-tf's linear-time UnsortedSegmentSum for the `'cpu'` backend; it replaces
 * tfjs-backend-cpu's kernel when `registerDuetKernels('cpu')` runs.
 *
 * @example
 * ```ts
 * tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
 * tf.registerKernel(unsortedSegmentSumCpuConfig);
 * ```
 */
export const unsortedSegmentSumCpuConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'cpu',
  kernelFunc: unsortedSegmentSumCpu as unknown as tf.KernelFunc,
};
