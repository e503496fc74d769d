/**
 * The backend-independent core of duet-tf's UnsortedSegmentSum kernels: one pass over the rows,
 * O(rows · dim), instead of tfjs-backend-cpu's one masked pass per segment.
 */

/**
 * Values a kernel reads (numeric tensors only).
 *
 * @example
 * ```ts
 * const values: NumericArray = new Float32Array([1, 2]);
 * ```
 */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

/**
 * Shapes of one UnsortedSegmentSum call, checked and flattened.
 *
 * @example
 * ```ts
 * const plan: SegmentSumPlan = planSegmentSum([6, 4], [6], 3);
 * ```
 */
export interface SegmentSumPlan {
  /** Output shape: `[numSegments, ...x.shape.slice(1)]`. */
  outShape: number[];
  /** Rows of x (`x.shape[0]`). */
  rows: number;
  /** Segment ids per row (product of `segmentIds.shape.slice(1)`; 1 for rank-1 ids). */
  idsPerRow: number;
  /** Values summed per id (product of `x.shape.slice(segmentIds.rank)`). */
  dim: number;
  /** Number of output segments. */
  numSegments: number;
}

/**
 * Checks the inputs of UnsortedSegmentSum and flattens them to `x: [rows, idsPerRow, dim]`,
 * `segmentIds: [rows, idsPerRow]`. For ids of rank > 1 this follows tfjs-backend-cpu (reduce over
 * the first axis only), so the output is `[numSegments, ...x.shape.slice(1)]` in every case.
 *
 * @example
 * ```ts
 * planSegmentSum([6, 4], [6], 3); // {outShape: [3, 4], rows: 6, idsPerRow: 1, dim: 4, numSegments: 3}
 * ```
 */
export function planSegmentSum(
  xShape: readonly number[],
  idsShape: readonly number[],
  numSegments: number,
): SegmentSumPlan {
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(
      `'numSegments' passed to 'UnsortedSegmentSum' must be a non-negative integer, got ${numSegments}`,
    );
  }
  const isPrefix = idsShape.length >= 1 && idsShape.length <= xShape.length &&
    idsShape.every((d, i) => d === xShape[i]);
  if (!isPrefix) {
    throw new Error(
      `'segmentIds' passed to 'UnsortedSegmentSum' must have a shape that starts x's shape ` +
        `[${xShape.join(', ')}], got [${idsShape.join(', ')}]`,
    );
  }
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return {
    outShape: [numSegments, ...xShape.slice(1)],
    rows: xShape[0],
    idsPerRow: prod(idsShape.slice(1)),
    dim: prod(xShape.slice(idsShape.length)),
    numSegments,
  };
}

/**
 * Sums the rows of `x` into the output row their segment id names; ids outside
 * `[0, numSegments)` (negative included) are dropped, as tfjs-backend-cpu does. Rows are grouped
 * by output row first (a stable counting sort), then each group is summed in float64 in row
 * order and rounded once: the same values tfjs-backend-cpu's kernel gives, in linear time and
 * without a float64 copy of the output. Every element of `out` (size `numSegments · idsPerRow ·
 * dim`) is written, so it need not be zeroed.
 *
 * @example
 * ```ts
 * const out = new Float32Array(2);
 * segmentSumInto(new Float32Array([1, 2, 3]), new Int32Array([1, -1, 1]), planSegmentSum([3], [3], 2), out);
 * // out = [0, 4]
 * ```
 */
export function segmentSumInto(
  x: NumericArray,
  ids: Int32Array,
  plan: SegmentSumPlan,
  out: Float32Array,
): void {
  const { rows, idsPerRow, dim, numSegments } = plan;
  const nIn = rows * idsPerRow;
  const nOut = numSegments * idsPerRow;
  // start[key]..start[key + 1] will index, in `order`, the input rows summed into output row key.
  const start = new Int32Array(nOut + 1);
  for (let q = 0; q < nIn; q++) {
    const s = ids[q];
    if (s >= 0 && s < numSegments) start[s * idsPerRow + (q % idsPerRow) + 1]++;
  }
  for (let key = 0; key < nOut; key++) start[key + 1] += start[key];
  const order = new Int32Array(start[nOut]);
  const cursor = start.slice(0, nOut);
  for (let q = 0; q < nIn; q++) {
    const s = ids[q];
    if (s >= 0 && s < numSegments) order[cursor[s * idsPerRow + (q % idsPerRow)]++] = q;
  }
  const acc = new Float64Array(dim);
  for (let key = 0; key < nOut; key++) {
    const dst = key * dim;
    const from = start[key];
    const to = start[key + 1];
    if (from === to) {
      out.fill(0, dst, dst + dim);
      continue;
    }
    acc.fill(0);
    for (let p = from; p < to; p++) {
      const src = order[p] * dim;
      for (let k = 0; k < dim; k++) acc[k] += x[src + k];
    }
    for (let k = 0; k < dim; k++) out[dst + k] = acc[k];
  }
}
