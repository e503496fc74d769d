import { byScoreDesc } from './group_by_user';
import { checkLabels, checkScores } from './validate';

/**
 * AUC of rows already ranked by score descending (equal scores adjacent). Counts, for every
 * (positive, negative) pair, 1 when the positive scores higher and 1/2 when they tie: the
 * Mann–Whitney U with average ranks, divided by #pos·#neg. NaN when a class is absent. Internal.
 */
export function aucOfRanked(ranked: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let positives = 0;
  let negatives = 0;
  let wins = 0; // half-integers below 2^53: exact in float64
  let i = 0;
  while (i < ranked.length) {
    const s = scores[ranked[i]];
    let p = 0;
    let q = 0;
    for (; i < ranked.length && scores[ranked[i]] === s; i++) {
      if (labels[ranked[i]] === 1) p++;
      else q++;
    }
    // Each negative in this block of equal scores loses to every positive above and ties with those in it.
    wins += q * positives + 0.5 * p * q;
    positives += p;
    negatives += q;
  }
  return positives === 0 || negatives === 0 ? NaN : wins / (positives * negatives);
}

/**
 * ROC AUC over all rows: the probability that a random positive row scores higher than a random
 * negative one, ties counting 1/2 (Mann–Whitney U with average ranks). O(n log n).
 *
 * Scores may be logits or probabilities (only their order matters); ±Infinity is allowed, NaN is not.
 * Returns `NaN` when only one class is present, as AUC is undefined then.
 *
 * @param scores One score per row, higher meaning more likely positive.
 * @param labels One label per row, each exactly 0 or 1.
 * @returns The AUC in [0, 1], or `NaN` when all labels are equal.
 * @throws When lengths differ, a label is not 0/1, a score is NaN, or the input is empty.
 * @example
 * ```ts
 * auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // 0.75
 * auc([0.5, 0.5], [1, 0]);                  // 0.5 (a tie counts half)
 * auc([0.2, 0.7], [1, 1]);                  // NaN (one class only)
 * ```
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkScores('auc', 'scores', scores);
  checkLabels('auc', labels, scores.length);
  const ranked = new Uint32Array(scores.length);
  for (let i = 0; i < ranked.length; i++) ranked[i] = i;
  ranked.sort(byScoreDesc(scores, labels));
  return aucOfRanked(ranked, scores, labels);
}
