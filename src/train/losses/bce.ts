/**
 * `bce`: binary cross-entropy with one negative per position, drawn uniformly from the items the
 * user never had — the original SASRec loss (Kang & McAuley, 2018). Cheapest per step, weakest
 * per epoch. Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';

import { checkLossOptions, pairedLogits, softplus } from './common';
import type { LossInputs, NegativeSample, SamplingContext, SequenceLoss } from './types';

/**
 * Options of {@link bceLoss}: none.
 *
 * @example
 * ```ts
 * const options: BceOptions = {};
 * ```
 */
export type BceOptions = Record<string, never>;

/** A uniform item of 1..N that `exclude` lacks (any item, if the user has every one). */
function drawOutside(context: SamplingContext, row: number): number {
  const n = context.numItems;
  const exclude = context.rowItems(row);
  const rng = context.rowRng(row);
  if (exclude.size >= n) return 1 + rng.int(n);
  for (;;) {
    const item = 1 + rng.int(n);
    if (!exclude.has(item)) return item;
  }
}

/**
 * The SASRec loss: per row, `−log σ(s_target) − log(1 − σ(s_negative))` with the row's own
 * negative (from `sampleNegatives`: uniform over items the user never had), averaged over rows.
 *
 * @example
 * ```ts
 * const loss = bceLoss();
 * const { items } = loss.sampleNegatives(targets, context)!; // one negative per row
 * ```
 */
export function bceLoss(options: BceOptions = {}): SequenceLoss {
  checkLossOptions(options, [], 'bce');
  return {
    name: 'bce',
    options: {},
    sampleNegatives(targets: Int32Array, context: SamplingContext): NegativeSample {
      const items = new Int32Array(targets.length);
      for (let i = 0; i < targets.length; i++) items[i] = drawOutside(context, i);
      return { items, correction: null };
    },
    compute({ users, targets, items, negatives }: LossInputs): tf.Scalar {
      const rows = users.shape[0];
      if (negatives === null || negatives.shape[0] !== rows) {
        throw new Error(`the 'bce' loss needs one negative per row (${rows}), got ` +
          `${negatives === null ? 'none' : negatives.shape[0]}`);
      }
      return tf.tidy(() => {
        const { vectors, bias } = items(tf.concat([targets, negatives]) as tf.Tensor1D);
        const logits = pairedLogits(tf.concat([users, users]) as tf.Tensor2D, vectors, bias);
        const [positive, negative] = tf.split(logits, 2);
        return tf.mean(tf.add(softplus(tf.neg(positive)), softplus(negative))) as tf.Scalar;
      });
    },
  };
}
