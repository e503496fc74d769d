/**
 * The parameter generator at every position of a sequence at once, for sequence-level training
 * (a target at every position, each with its own prefix as history).
 *
 * - Encoders: one pass over `[batch, time, dim]` gives the conditioning vector of every prefix,
 *   each equal to what the encoder gives for that prefix alone (right padding).
 * - Decoders, applied factorised: `x · W(z) + b(z)` for rows `x [rows, in]` with their own
 *   conditions `z [rows, c]`, never forming a kernel per row. Low-rank:
 *   `x·W₀ + ((x·U) ⊙ s(z))·V`, the cost of two thin matMuls; full: `(z ⊗ x)·A + x·a`.
 *
 * The Stable Weight Adapter bounds each entry of the generated kernel (`b·tanh(Δ/b)`), which
 * does not factor: with it the kernels would have to be formed row by row, so it is refused here.
 */
import * as tf from '@tensorflow/tfjs-core';

import { NEG_LARGE } from '../ops/masked_pooling';
import type { ParamSlice } from '../param_layout';
import type { AttentionWeights } from './encoders';
import type { LowRankCore, LowRankWeights } from './decoders';

/** `[T, T]` lower-triangular ones: row t sums positions 0..t. */
function prefixSums(time: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.reshape(tf.range(0, time, 1, 'int32'), [time, 1]);
    const cols = tf.reshape(tf.range(0, time, 1, 'int32'), [1, time]);
    return tf.cast(tf.greaterEqual(rows, cols), 'float32') as tf.Tensor2D;
  });
}

/** `Σ_{j ≤ t} x_j` for every t of `x [batch, time, dim]`, as one matMul over time. */
function cumulative(x: tf.Tensor3D): tf.Tensor3D {
  const [batch, time, dim] = x.shape;
  const byTime = tf.reshape(tf.transpose(x, [1, 0, 2]), [time, batch * dim]);
  const summed = tf.reshape(tf.matMul(prefixSums(time), byTime), [time, batch, dim]);
  return tf.transpose(summed, [1, 0, 2]) as tf.Tensor3D;
}

/**
 * The masked mean of every prefix: position t holds the mean of the valid items among 0..t
 * (`maskedMean` of that prefix alone; zeros before the first valid item).
 *
 * @example
 * ```ts
 * prefixMeans(tf.tensor3d([[[1], [3], [8]]]), tf.ones([1, 3])); // [[[1], [2], [4]]]
 * ```
 */
export function prefixMeans(seq: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    const sums = cumulative(tf.mul(seq, m) as tf.Tensor3D);
    const counts = tf.maximum(cumulative(m as tf.Tensor3D), 1);
    return tf.div(sums, counts) as tf.Tensor3D;
  });
}

/**
 * Attention pooling of every prefix: position t pools the valid items among 0..t with the
 * weights `softmax_j(q · tanh(W x_j + b))` (`attentionPool` of that prefix alone).
 *
 * @example
 * ```ts
 * const pooled = prefixAttentionPool(seq, mask, { kernel, bias, query }); // [batch, time, dim]
 * ```
 */
export function prefixAttentionPool(seq: tf.Tensor3D, mask: tf.Tensor2D, w: AttentionWeights):
    tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, time, dim] = seq.shape;
    const hidden = tf.tanh(tf.add(tf.matMul(tf.reshape(seq, [batch * time, dim]), w.kernel), w.bias));
    const scores = tf.reshape(tf.matMul(hidden, tf.reshape(w.query, [dim, 1])), [batch, 1, time]);
    // allowed[b, t, j] = mask[b, j] · [j ≤ t]
    const allowed = tf.mul(tf.reshape(mask, [batch, 1, time]), tf.reshape(prefixSums(time), [1, time, time]));
    const masked = tf.add(tf.mul(scores, allowed), tf.mul(tf.sub(1, allowed), NEG_LARGE));
    const weights = tf.mul(tf.softmax(masked), allowed) as tf.Tensor3D;
    return tf.matMul(weights, seq) as tf.Tensor3D;
  });
}

function refuseBound(bound: unknown, caller: string): void {
  if (bound !== null && bound !== undefined) {
    throw new Error(`'${caller}' cannot apply the Stable Weight Adapter factorised (it bounds each ` +
      `kernel entry, so every row's kernel would have to be formed); use stableWeights: false ` +
      `for sequence-level training`);
  }
}

/**
 * `x · W(z) + b(z)` of one low-rank layer for rows `x [rows, in]` and their conditions
 * `z [rows, c]`, with `W(z) = W₀ + U·S(z)·V` applied factorised:
 * `x·W₀ + ((x·U) · S(z))·V` (diagonal core: `(x·U) ⊙ s(z)`). Equal to `decodeLowRank` followed
 * by the per-row product, at the cost of `[rows, in]·[in, r]` and `[rows, r]·[r, out]`.
 *
 * @example
 * ```ts
 * const y = applyLowRankRows(x, z, slice, weights, 'diag'); // [rows, slice.outputDim]
 * ```
 */
export function applyLowRankRows(x: tf.Tensor2D, z: tf.Tensor2D, slice: ParamSlice,
    w: LowRankWeights, coreKind: LowRankCore): tf.Tensor2D {
  refuseBound(w.bound, 'applyLowRankRows');
  return tf.tidy(() => {
    const rows = x.shape[0];
    const rank = w.u.shape[1];
    const s = tf.add(tf.matMul(z, w.core), w.coreBias);
    const xu = tf.matMul(x, w.u);
    const mixed = coreKind === 'diag' ? tf.mul(xu, s) :
      tf.reshape(tf.matMul(tf.reshape(xu, [rows, 1, rank]), tf.reshape(s, [rows, rank, rank])), [rows, rank]);
    let y = tf.add(tf.matMul(x, tf.reshape(w.base, [slice.inputDim, slice.outputDim])),
      tf.matMul(mixed as tf.Tensor2D, w.v));
    if (w.biasKernel !== null && w.biasBase !== null) {
      y = tf.add(y, tf.add(tf.matMul(z, w.biasKernel), w.biasBase));
    }
    return y as tf.Tensor2D;
  });
}

/**
 * `x · W(z) + b(z)` of one layer under the full decoder (`W(z) = z·A + a`, laid out as the
 * layer's `slice` of the flat vector) for rows `x [rows, in]` and conditions `z [rows, c]`:
 * `(z ⊗ x)·A + x·a`, without forming a kernel per row (cost `rows · c · in · out`).
 *
 * @example
 * ```ts
 * const y = applyFullRows(x, z, slice, kernel, bias); // [rows, slice.outputDim]
 * ```
 */
export function applyFullRows(x: tf.Tensor2D, z: tf.Tensor2D, slice: ParamSlice,
    kernel: tf.Tensor2D, bias: tf.Tensor1D, bound: tf.Tensor | null = null): tf.Tensor2D {
  refuseBound(bound, 'applyFullRows');
  return tf.tidy(() => {
    const rows = x.shape[0];
    const cond = z.shape[1];
    const { inputDim, outputDim, offset } = slice;
    const kernelSize = inputDim * outputDim;
    // A as [c·in, out]: row c·in + i, column o is A[c, offset + i·out + o].
    const a = tf.reshape(tf.slice(kernel, [0, offset], [cond, kernelSize]), [cond * inputDim, outputDim]);
    const outer = tf.reshape(tf.mul(tf.reshape(z, [rows, cond, 1]), tf.reshape(x, [rows, 1, inputDim])),
      [rows, cond * inputDim]);
    let y = tf.add(tf.matMul(outer, a),
      tf.matMul(x, tf.reshape(tf.slice(bias, [offset], [kernelSize]), [inputDim, outputDim])));
    if (slice.useBias) {
      const start = offset + kernelSize;
      y = tf.add(y, tf.add(tf.matMul(z, tf.slice(kernel, [0, start], [cond, outputDim])),
        tf.slice(bias, [start], [outputDim])));
    }
    return y as tf.Tensor2D;
  });
}
