/**
 * Sequence encoders of the parameter generator: `[batch, time, dim]` plus a `[batch, time]`
 * mask (1 = item, 0 = padding) → one conditioning vector per sample. Padding may sit on
 * either side; every encoder reads only the masked-in positions.
 */
import * as tf from '@tensorflow/tfjs-core';

import { gatherLastValid } from '../ops/last_valid';
import { maskedMean } from '../ops/masked_pooling';

export { gatherLastValid, maskedMean };

/** How the generator summarises the conditioning sequence. */
export type EncoderKind = 'gru' | 'mean' | 'attention' | 'last';
export const ENCODER_KINDS: readonly EncoderKind[] = ['gru', 'mean', 'attention', 'last'];

/** GRU weights in Keras layout: gates ordered update, reset, candidate. */
export interface GruWeights {
  kernel: tf.Tensor2D;     // [dim, 3h]
  recurrent: tf.Tensor2D;  // [h, 3h]
  bias: tf.Tensor1D;       // [3h]
}

/**
 * GRU over the masked sequence; a padded step leaves the state unchanged, so the final state is
 * the state at the last valid position whether padding is on the right or on the left.
 */
export function gruEncode(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor2D {
  const [batch, time, dim] = seq.shape;
  const units = w.recurrent.shape[0];
  // All input projections in one matMul instead of one per step.
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(seq, [batch * time, dim]), w.kernel),
    w.bias), [batch, time, 3 * units]);
  const steps = tf.unstack(projected, 1);
  const masks = tf.unstack(tf.reshape(mask, [batch, time, 1]), 1);
  const [uz, ur, uh] = tf.split(w.recurrent, 3, 1);
  const uzr = tf.concat([uz, ur], 1);
  let h: tf.Tensor2D = tf.zeros([batch, units]);
  for (let t = 0; t < time; t++) {
    const [xz, xr, xh] = tf.split(steps[t], 3, 1);
    const [hz, hr] = tf.split(tf.matMul(h, uzr), 2, 1);
    const z = tf.sigmoid(tf.add(xz, hz));
    const r = tf.sigmoid(tf.add(xr, hr));
    const candidate = tf.tanh(tf.add(xh, tf.matMul(tf.mul(r, h), uh)));
    const next = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate));
    const m = masks[t];
    h = tf.add(tf.mul(m, next), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
  }
  return h;
}

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
