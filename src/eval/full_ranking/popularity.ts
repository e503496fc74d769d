/**
 * The popularity floor of a seq-loo-v1 split: every user gets the same ranking, items by how
 * often they occur in the training sequences. Browser-safe.
 */
import { type SeqLooPart, type SeqLooSplit, seqLooHistory, seqLooTarget } from '../../data/protocols/seq_loo';
import { FullRankingMetrics, type FullRankingReport, targetRank } from './ranks';

/**
 * How often each item occurs in the training sequences (s_1..s_{n-2} of every user), as
 * `counts[item - 1]` for items 1..numItems: the scores of the popularity ranking.
 *
 * @example
 * ```ts
 * const counts = trainingCounts(split); // Float32Array of numItems
 * ```
 */
export function trainingCounts(split: Pick<SeqLooSplit, 'items' | 'offsets' | 'numUsers' | 'numItems'>): Float32Array {
  const counts = new Float32Array(split.numItems);
  for (let u = 1; u <= split.numUsers; u++) {
    for (let i = split.offsets[u - 1]; i < split.offsets[u] - 2; i++) counts[split.items[i] - 1]++;
  }
  return counts;
}

/**
 * HR@K and NDCG@K of ranking every item by its training count (see {@link trainingCounts}) for
 * each user's `part` target, with the user's history removed and ties counted against it: the
 * floor any model on the split should clear.
 *
 * @example
 * ```ts
 * popularityRanking(split, 'test')['ndcg@10']; // 0.0055 on amazon-beauty.txt
 * ```
 */
export function popularityRanking(split: SeqLooSplit, part: SeqLooPart): FullRankingReport {
  const scores = trainingCounts(split);
  const metrics = new FullRankingMetrics();
  const seen = new Int32Array(split.numItems + 1);
  for (let u = 1; u <= split.numUsers; u++) {
    metrics.add(targetRank(scores, 0, split.numItems, seqLooTarget(split, u, part),
      seqLooHistory(split, u, part), seen, u));
  }
  return metrics.report();
}
