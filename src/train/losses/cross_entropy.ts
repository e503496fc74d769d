/**
 * `ce`: the full softmax over the catalogue — every item is a class, the target the right one.
 * The strongest loss for SASRec in the literature (Klenitskiy & Vasilev, RecSys 2023: "Turning
 * Dross Into Gold Loss"); its cost is one `[rows, dim] · [dim, items]` product per batch.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';

import { checkLossOptions, meanSoftmaxCrossEntropy } from './common';
import type { LossInputs, SequenceLoss } from './types';

/**
 * Options of {@link crossEntropyLoss}: none (the object is accepted so every loss is built alike).
 *
 * @example
 * ```ts
 * const options: CrossEntropyOptions = {};
 * ```
 */
export type CrossEntropyOptions = Record<string, never>;

/**
 * The full-softmax cross-entropy: for each row, `logsumexp_j(s_j) − s_target` over items
 * j = 1..N (padding 0 is no class), averaged over rows, with `s_j = ⟨user, item_j⟩ + b_j`.
 *
 * @example
 * ```ts
 * const loss = crossEntropyLoss();
 * const value = loss.compute({ users, targets, items, numItems, negatives: null }); // a scalar
 * ```
 */
export function crossEntropyLoss(options: CrossEntropyOptions = {}): SequenceLoss {
  checkLossOptions(options, [], 'ce');
  return {
    name: 'ce',
    options: {},
    sampleNegatives: () => null,
    compute({ users, targets, items, numItems }: LossInputs): tf.Scalar {
      return tf.tidy(() => {
        const catalogue = tf.range(1, numItems + 1, 1, 'int32') as tf.Tensor1D;
        const { vectors, bias } = items(catalogue);
        // Items as columns, the bias as one more row against a constant 1 in the user vectors.
        let table = tf.transpose(vectors) as tf.Tensor2D;
        let rows = users;
        if (bias !== null) {
          table = tf.concat([table, tf.reshape(bias, [1, -1])], 0);
          rows = tf.concat([users, tf.ones([users.shape[0], 1])], 1);
        }
        return meanSoftmaxCrossEntropy(rows, table, tf.sub(targets, tf.scalar(1, 'int32')) as tf.Tensor1D);
      });
    },
  };
}
