/**
 * Decoders of the parameter generator: conditioning vectors `z [batch, c]` → the flat
 * parameter vectors `[batch, total]` laid out by `paramLayout`.
 *
 * Every decoder splits a layer's parameters into a shared part (the same for every sample) and a
 * per-sample part Δ(z); the Stable Weight Adapter, when on, bounds only Δ.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { ParamSlice } from '../param_layout';

/** How conditioning vectors become layer parameters. */
export type DecoderKind = 'full' | 'lowrank';
export const DECODER_KINDS: readonly DecoderKind[] = ['full', 'lowrank'];

/** Shape of the generated low-rank core: a vector (diagonal) or an r×r matrix. */
export type LowRankCore = 'diag' | 'matrix';

/**
 * Stable Weight Adapter: `Δ' = b · tanh(Δ / b)` with a learned per-layer bound `b`.
 * Identity for small deviations, saturating for large ones, so no sample receives weights far
 * from the shared ones: this damps the sample-to-sample oscillation of generated weights.
 */
export function stableAdapt(delta: tf.Tensor, bound: tf.Tensor): tf.Tensor {
  return tf.mul(bound, tf.tanh(tf.div(delta, bound)));
}

/**
 * The full decoder (the authors'): `W = z·A + a`, `b = z·C + c`, all layers in one matMul.
 * `kernel` is `[c, total]`, `bias` `[total]`; `bound` (SWA) is `[total]` or null.
 */
export function decodeFull(z: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D,
    bound: tf.Tensor1D | null): tf.Tensor2D {
  // Without the adapter the bias joins the product in one fused kernel (one pass over the output).
  if (bound === null) return tf.fused.matMul({ a: z, b: kernel, bias }) as tf.Tensor2D;
  return tf.add(stableAdapt(tf.matMul(z, kernel), bound), bias) as tf.Tensor2D;
}

/** Weights of one layer under the low-rank decoder. */
export interface LowRankWeights {
  u: tf.Tensor2D;          // [in, r]
  v: tf.Tensor2D;          // [r, out]
  core: tf.Tensor2D;       // [c, r] (diag) or [c, r*r] (matrix)
  coreBias: tf.Tensor1D;   // [r] or [r*r]
  base: tf.Tensor1D;       // [in*out], the shared kernel
  biasKernel: tf.Tensor2D | null;  // [c, out]
  biasBase: tf.Tensor1D | null;    // [out]
  bound: tf.Tensor | null;         // scalar SWA bound
}

/**
 * The low-rank decoder (APG-style): `W = base + U · S(z) · V` with `S(z)` a generated diagonal
 * or r×r core, so a wide layer needs `(in + out)·r + c·r` weights instead of `c·in·out`.
 * Returns this layer's slice `[batch, size]` of the flat vector.
 */
export function decodeLowRank(z: tf.Tensor2D, slice: ParamSlice, w: LowRankWeights,
    coreKind: LowRankCore): tf.Tensor2D {
  const batch = z.shape[0];
  const { inputDim, outputDim } = slice;
  const rank = w.u.shape[1];
  const s = tf.add(tf.matMul(z, w.core), w.coreBias);
  let delta: tf.Tensor;
  if (coreKind === 'diag') {
    // (U ⊙ s) V, computed as one [batch·in, r]·[r, out] matMul.
    const scaled = tf.mul(tf.expandDims(w.u, 0), tf.expandDims(s, 1));
    delta = tf.matMul(tf.reshape(scaled, [batch * inputDim, rank]), w.v);
  } else {
    // U (S V): S V as one matMul over [batch·r, r], then U against all samples at once.
    const sv = tf.matMul(tf.reshape(s, [batch * rank, rank]), w.v);
    const svByRank = tf.reshape(tf.transpose(tf.reshape(sv, [batch, rank, outputDim]), [1, 0, 2]),
      [rank, batch * outputDim]);
    const usv = tf.reshape(tf.matMul(w.u, svByRank), [inputDim, batch, outputDim]);
    delta = tf.transpose(usv, [1, 0, 2]);
  }
  delta = tf.reshape(delta, [batch, inputDim * outputDim]);
  if (w.bound !== null) delta = stableAdapt(delta, w.bound);
  const kernel = tf.add(delta, w.base);
  if (w.biasKernel === null || w.biasBase === null) return kernel as tf.Tensor2D;
  let biasDelta: tf.Tensor = tf.matMul(z, w.biasKernel);
  if (w.bound !== null) biasDelta = stableAdapt(biasDelta, w.bound);
  return tf.concat([kernel, tf.add(biasDelta, w.biasBase)], 1) as tf.Tensor2D;
}
