/**
 * `sampled`: a sampled softmax — each row's target against K negatives shared by the whole
 * batch, drawn by popularity (`Q(j) ∝ (count_j + 1)^alpha`) and corrected by their log sampling
 * frequency (`s_j − log(K·Q(j))`, Bengio & Senécal 2008; Yi et al., RecSys 2019), so it estimates
 * the full softmax without scoring the whole catalogue. Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';

import { allLogits, checkLossOptions, integerOption, logSumExpRows, numberOption, pairedLogits } from './common';
import type { LossInputs, NegativeSample, SamplingContext, SequenceLoss } from './types';

/**
 * Options of {@link sampledSoftmaxLoss}.
 *
 * @example
 * ```ts
 * const options: SampledSoftmaxOptions = { negatives: 512, alpha: 0.75 };
 * ```
 */
export interface SampledSoftmaxOptions {
  /** K, the negatives shared by every row of a batch (drawn with replacement). Default 256. */
  negatives?: number;
  /** Sampling distribution `Q(j) ∝ (count_j + 1)^alpha` over items 1..N; 0 is uniform. Default 1. */
  alpha?: number;
}

/** Not −∞, so a row whose target was drawn as a negative gets no NaN gradient. */
const MASKED = -1e9;

/** Cumulative sums of `(count_j + 1)^alpha` (the last is the total). */
function cumulativeWeights(counts: ArrayLike<number>, alpha: number): Float64Array {
  const cumulative = new Float64Array(counts.length);
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    total += (counts[i] + 1) ** alpha;
    cumulative[i] = total;
  }
  return cumulative;
}

/**
 * The sampled softmax: per row, `logsumexp(s'_target, s'_1..s'_K) − s'_target` with
 * `s'_j = s_j − log(K·Q(j))`, a negative equal to the row's target masked out, averaged over
 * rows. `sampleNegatives` draws the K items and computes the corrections log(K·Q) of the
 * targets and the negatives, so the loss itself needs no item counts (a worker replica has none).
 *
 * @example
 * ```ts
 * const loss = sampledSoftmaxLoss({ negatives: 128 });
 * const { items, correction } = loss.sampleNegatives(targets, context)!; // 128 ids; rows + 128 offsets
 * ```
 */
export function sampledSoftmaxLoss(options: SampledSoftmaxOptions = {}): SequenceLoss {
  const o = checkLossOptions(options, ['negatives', 'alpha'], 'sampled');
  const negatives = integerOption(o.negatives, 256, 1, 'negatives', 'sampled');
  const alpha = numberOption(o.alpha, 1, 0, 'alpha', 'sampled');
  let cached: { counts: ArrayLike<number>; cumulative: Float64Array } | null = null;
  const weights = (counts: ArrayLike<number>): Float64Array => {
    if (cached === null || cached.counts !== counts) cached = { counts, cumulative: cumulativeWeights(counts, alpha) };
    return cached.cumulative;
  };
  return {
    name: 'sampled',
    options: { negatives, alpha },
    sampleNegatives(targets: Int32Array, context: SamplingContext): NegativeSample {
      const cumulative = weights(context.itemCounts);
      const total = cumulative[cumulative.length - 1];
      // log(K·Q(j)) with Q(j) = w_j / total.
      const logExpected = (item: number) =>
        Math.log(negatives * (cumulative[item - 1] - (item > 1 ? cumulative[item - 2] : 0)) / total);
      const items = new Int32Array(negatives);
      for (let k = 0; k < negatives; k++) {
        const u = context.rng.next() * total;
        let lo = 0;
        let hi = cumulative.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cumulative[mid] > u) hi = mid; else lo = mid + 1;
        }
        items[k] = lo + 1;
      }
      const correction = new Float32Array(targets.length + negatives);
      targets.forEach((t, i) => { correction[i] = logExpected(t); });
      items.forEach((t, k) => { correction[targets.length + k] = logExpected(t); });
      return { items, correction };
    },
    compute({ users, targets, items, negatives: drawn, correction }: LossInputs): tf.Scalar {
      const rows = users.shape[0];
      if (drawn === null || drawn.shape[0] !== negatives || correction === null ||
          correction.shape[0] !== rows + negatives) {
        throw new Error(`the 'sampled' loss needs its ${negatives} shared negatives and ` +
          `${rows + negatives} corrections from sampleNegatives`);
      }
      return tf.tidy(() => {
        const { vectors, bias } = items(tf.concat([targets, drawn]) as tf.Tensor1D);
        const [own, shared] = tf.split(vectors, [rows, negatives]) as tf.Tensor2D[];
        const [ownBias, sharedBias] = bias === null ? [null, null] :
          tf.split(bias, [rows, negatives]) as tf.Tensor1D[];
        const [ownCorrection, sharedCorrection] = tf.split(correction, [rows, negatives]);
        const positive = tf.sub(pairedLogits(users, own, ownBias), ownCorrection);
        const hit = tf.equal(tf.reshape(targets, [rows, 1]), tf.reshape(drawn, [1, negatives]));
        const negative = tf.where(hit, tf.fill([rows, negatives], MASKED),
          tf.sub(allLogits(users, shared, sharedBias), tf.reshape(sharedCorrection, [1, negatives])));
        const logits = tf.concat([tf.reshape(positive, [rows, 1]), negative], 1);
        return tf.mean(tf.sub(logSumExpRows(logits), positive)) as tf.Scalar;
      });
    },
  };
}
