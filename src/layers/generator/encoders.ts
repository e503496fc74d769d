/**
 * Sequence encoders of the parameter generator: `[batch, time, dim]` plus a `[batch, time]`
 * mask (1 = item, 0 = padding) → one conditioning vector per sample. Padding may sit on
 * either side; every encoder reads only the masked-in positions.
 */
import * as tf from '@tensorflow/tfjs-core';

import { gruEncode, type GruWeights } from '../ops/gru_recurrence';
import { gatherLastValid } from '../ops/last_valid';
import { maskedMean } from '../ops/masked_pooling';

export { gatherLastValid, gruEncode, maskedMean };
export type { GruWeights };

/** How the generator summarises the conditioning sequence. */
export type EncoderKind = 'gru' | 'mean' | 'attention' | 'last';
export const ENCODER_KINDS: readonly EncoderKind[] = ['gru', 'mean', 'attention', 'last'];

/** Learned attention pooling: `α = softmax_t(q · tanh(W x_t + b))` over valid positions. */
export interface AttentionWeights {
  kernel: tf.Tensor2D;  // [dim, dim]
  bias: tf.Tensor1D;    // [dim]
  query: tf.Tensor1D;   // [dim]
}

export function attentionPool(seq: tf.Tensor3D, mask: tf.Tensor2D, w: AttentionWeights):
    tf.Tensor2D {
  const [batch, time, dim] = seq.shape;
  const hidden = tf.tanh(tf.add(tf.matMul(tf.reshape(seq, [batch * time, dim]), w.kernel), w.bias));
  const scores = tf.reshape(tf.matMul(hidden, tf.reshape(w.query, [dim, 1])), [batch, time]);
  // Padding gets -1e9 before the softmax, then exactly 0 after it (all-padding rows: all 0).
  const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
  const weights = tf.mul(tf.softmax(masked), mask);
  return tf.sum(tf.mul(seq, tf.expandDims(weights, 2)), 1) as tf.Tensor2D;
}

/** Standardises each row to zero mean and unit variance (no learned scale). */
export function standardize(z: tf.Tensor2D): tf.Tensor2D {
  const { mean, variance } = tf.moments(z, 1, true);
  return tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor2D;
}
