/**
 * The last valid position of a masked sequence, for left- and right-padded batches alike.
 */
import * as tf from '@tensorflow/tfjs-core';

import { binaryMask, checkMaskShape } from './sequence_mask';
import { shapeText } from './shape_text';

/**
 * Index of the last valid (non-zero) position of each mask row, or -1 for an all-padding row.
 * Works whatever the padding side: it is the highest valid index, not the valid count minus 1.
 *
 * @example
 * ```ts
 * lastValidIndex(tf.tensor2d([[1, 1, 0], [0, 1, 1], [0, 0, 0]])); // [1, 2, -1], int32
 * ```
 */
export function lastValidIndex(mask: tf.Tensor2D): tf.Tensor1D {
  if (mask.rank !== 2) {
    throw new Error(`'mask' passed to 'lastValidIndex' must have shape [batch, time], got ` +
      shapeText(mask.shape));
  }
  return tf.tidy(() => {
    const time = mask.shape[1];
    const m = binaryMask(mask);
    // Valid positions score t + 1, padding 0: the arg max is the last valid index.
    const score = tf.mul(m, tf.range(1, time + 1, 1, 'float32'));
    const idx = tf.argMax(score, 1);
    const any = tf.greater(tf.max(m, 1), 0);
    return tf.where(any, idx, tf.fill([mask.shape[0]], -1, 'int32')) as tf.Tensor1D;
  });
}

/**
 * The state at each row's last valid position: `x [batch, time, dim]`, `mask [batch, time]`
 * → `[batch, dim]`; all-padding rows give zeros. Computed as a one-hot selection (no per-sample
 * loop), so the gradient flows to the selected positions only.
 *
 * @example
 * ```ts
 * const x = tf.tensor3d([[[1], [2], [0]], [[0], [3], [4]]]);
 * gatherLastValid(x, tf.tensor2d([[1, 1, 0], [0, 1, 1]])); // [[2], [4]]
 * ```
 */
export function gatherLastValid(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 3) {
    throw new Error(`'x' passed to 'gatherLastValid' must have shape [batch, time, dim], got ` +
      shapeText(x.shape));
  }
  checkMaskShape(mask.shape, x.shape, 'gatherLastValid');
  return tf.tidy(() => {
    const [batch, time] = x.shape;
    // oneHot(-1) is an all-zero row, which is what an all-padding row needs.
    // oneHot then cast: tfjs-backend-wasm 4.22's OneHot ignores dtype 'float32' and writes int32
    // bit patterns (1 reads as 1.4e-45), which zeroed the user state of SASRec/GRU4Rec on wasm.
    const select = tf.cast(tf.oneHot(lastValidIndex(mask), time), 'float32');
    return tf.sum(tf.mul(x, tf.reshape(select, [batch, time, 1])), 1) as tf.Tensor2D;
  });
}
