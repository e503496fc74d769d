/**
 * Masked mean and max over the time axis of `[batch, time, dim]` sequences.
 */
import * as tf from '@tensorflow/tfjs-core';

import { binaryMask, checkMaskShape } from './sequence_mask';
import { shapeText } from './shape_text';

/** Stand-in for minus infinity that stays finite, so gradients and products never see NaN. */
export const NEG_LARGE = -1e9;

function check(x: tf.Tensor, mask: tf.Tensor, caller: string): void {
  if (x.rank !== 3) {
    throw new Error(`'x' passed to '${caller}' must have shape [batch, time, dim], got ` +
      shapeText(x.shape));
  }
  checkMaskShape(mask.shape, x.shape, caller);
}

/**
 * Mean over the valid positions: `x [batch, time, dim]`, `mask [batch, time]` → `[batch, dim]`;
 * all-padding rows give zeros.
 *
 * @example
 * ```ts
 * maskedMean(tf.tensor3d([[[1], [3], [9]]]), tf.tensor2d([[1, 1, 0]])); // [[2]]
 * ```
 */
export function maskedMean(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  check(x, mask, 'maskedMean');
  return tf.tidy(() => {
    const m = tf.expandDims(binaryMask(mask), 2);
    const sum = tf.sum(tf.mul(x, m), 1);
    const count = tf.maximum(tf.sum(m, 1), 1);
    return tf.div(sum, count) as tf.Tensor2D;
  });
}

/**
 * Element-wise max over the valid positions: `x [batch, time, dim]`, `mask [batch, time]` →
 * `[batch, dim]`; all-padding rows give zeros.
 *
 * @example
 * ```ts
 * maskedMax(tf.tensor3d([[[1], [3], [9]]]), tf.tensor2d([[1, 1, 0]])); // [[3]]
 * ```
 */
export function maskedMax(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  check(x, mask, 'maskedMax');
  return tf.tidy(() => {
    const m = tf.expandDims(binaryMask(mask), 2);
    // Valid entries are kept exactly (x·1 + 0); padding becomes a large negative.
    const shifted = tf.add(tf.mul(x, m), tf.mul(tf.sub(1, m), NEG_LARGE));
    const any = tf.max(m, 1);
    return tf.mul(tf.max(shifted, 1), any) as tf.Tensor2D;
  });
}
