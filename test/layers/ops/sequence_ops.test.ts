import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { gatherLastValid, lastValidIndex } from '../../../src/layers/ops/last_valid';
import { maskedMax, maskedMean } from '../../../src/layers/ops/masked_pooling';
import { binaryMask, causalMask, sequenceMask } from '../../../src/layers/ops/sequence_mask';

describe('sequence mask ops', () => {
  it('sequenceMask marks ids > 0 as valid, as float32', () => {
    const m = sequenceMask(tf.tensor2d([[0, 0, 7, 3], [5, 1, 0, 0]], [2, 4], 'int32'));
    expect(m.dtype).toBe('float32');
    expect(m.arraySync()).toEqual([[0, 0, 1, 1], [1, 1, 0, 0]]);
    expect(() => sequenceMask(tf.zeros([2]) as unknown as tf.Tensor2D))
      .toThrow(/'ids' passed to 'sequenceMask' must have shape \[batch, time\], got \[2\]/);
  });

  it('binaryMask and causalMask', () => {
    expect(binaryMask(tf.tensor2d([[0, 2, -1]], [1, 3], 'int32')).arraySync()).toEqual([[0, 1, 1]]);
    expect(causalMask(3, 2).arraySync()).toEqual([[1, 0], [1, 1], [1, 1]]);
  });

  it('lastValidIndex finds the last valid position whatever the padding side', () => {
    const mask = tf.tensor2d([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]]);
    const idx = lastValidIndex(mask);
    expect(idx.dtype).toBe('int32');
    expect(Array.from(idx.dataSync())).toEqual([1, 3, 2, -1, 3]);
  });

  it('gatherLastValid picks that state, zeros for all-padding rows, without leaking', () => {
    const x = tf.tensor3d([[[1], [2], [0]], [[0], [3], [4]], [[5], [6], [7]]]);
    const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1], [0, 0, 0]]);
    expect(gatherLastValid(x, mask).arraySync()).toEqual([[2], [4], [0]]);
    const before = tf.memory().numTensors;
    gatherLastValid(x, mask).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => gatherLastValid(x, tf.ones([3, 2]) as tf.Tensor2D))
      .toThrow(/'mask' passed to 'gatherLastValid' must have shape \[batch, time\] matching 'x' \[3, 3, 1\], got \[3, 2\]/);
  });

  it('maskedMean and maskedMax ignore padding and give zeros for all-padding rows', () => {
    const x = tf.tensor3d([[[1], [3], [9]], [[-5], [-2], [-7]]]);
    const mask = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
    expect(maskedMean(x, mask).arraySync()).toEqual([[2], [-5]]);
    expect(maskedMax(x, mask).arraySync()).toEqual([[3], [-5]]);
    const none = tf.zeros([2, 3]) as tf.Tensor2D;
    // Compared with ===, so -0 (a negative times a zero mask) counts as zero.
    expect(Array.from(maskedMax(x, none).dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(maskedMean(x, none).dataSync()).every((v) => v === 0)).toBe(true);
  });
});
