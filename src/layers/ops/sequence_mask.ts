/**
 * Sequence masks. Convention used by every duet-tf sequence layer: a mask is a `[batch, time]`
 * tensor of any numeric dtype where a non-zero entry marks a valid position and 0 marks padding.
 */
import * as tf from '@tensorflow/tfjs-core';

import { dimsDiffer, shapeText } from './shape_text';

/**
 * The padding mask of an item-id sequence: 1 where `id > 0`, 0 elsewhere (id 0 is padding).
 *
 * @example
 * ```ts
 * sequenceMask(tf.tensor2d([[0, 0, 7, 3]], [1, 4], 'int32')); // [[0, 0, 1, 1]], float32
 * ```
 */
export function sequenceMask(ids: tf.Tensor2D): tf.Tensor2D {
  if (ids.rank !== 2) {
    throw new Error(`'ids' passed to 'sequenceMask' must have shape [batch, time], got ` +
      shapeText(ids.shape));
  }
  return tf.tidy(() => tf.cast(tf.greater(ids, 0), 'float32') as tf.Tensor2D);
}

/**
 * A mask turned into float32 zeros and ones (any non-zero entry becomes 1), so masks given as
 * int32, bool or float can be multiplied into float tensors.
 *
 * @example
 * ```ts
 * binaryMask(tf.tensor2d([[0, 2]], [1, 2], 'int32')); // [[0, 1]], float32
 * ```
 */
export function binaryMask(mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.notEqual(mask, 0), 'float32'));
}

/**
 * The causal mask `[queryTime, valueTime]`: 1 where the value position `j <= i`, the query
 * position, so no position sees the future.
 *
 * @example
 * ```ts
 * causalMask(3, 3); // [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
 * ```
 */
export function causalMask(queryTime: number, valueTime: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.reshape(tf.range(0, queryTime, 1, 'int32'), [queryTime, 1]);
    const cols = tf.reshape(tf.range(0, valueTime, 1, 'int32'), [1, valueTime]);
    return tf.cast(tf.greaterEqual(rows, cols), 'float32') as tf.Tensor2D;
  });
}

/**
 * Checks that `mask` is `[batch, time]` for a `[batch, time, ...]` tensor `x`; throws an error
 * naming `caller` otherwise.
 */
export function checkMaskShape(
  mask: ReadonlyArray<number | null>, x: ReadonlyArray<number | null>, caller: string,
  maskName = 'mask', xName = 'x',
): void {
  const ok = mask.length === 2 && !dimsDiffer(mask[0], x[0]) && !dimsDiffer(mask[1], x[1]);
  if (!ok) {
    throw new Error(`'${maskName}' passed to '${caller}' must have shape [batch, time] matching ` +
      `'${xName}' ${shapeText(x)}, got ${shapeText(mask)}`);
  }
}
