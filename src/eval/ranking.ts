import { rankRowsByUser, type UserRows } from './group_by_user';
import { checkK, checkLabels, checkScores, checkUsers, type UserId } from './validate';

/** NDCG@K and HR@K averaged over users with at least one positive (NaN when there is none). Internal. */
export function rankingOfGroups(
  groups: readonly UserRows[],
  labels: ArrayLike<number>,
  k: number,
): { ndcg: number; hr: number } {
  const discount = new Float64Array(k);
  for (let r = 0; r < k; r++) discount[r] = 1 / Math.log2(r + 2);
  let ndcgSum = 0;
  let hits = 0;
  let counted = 0;
  for (const g of groups) {
    if (g.positives === 0) continue;
    const top = Math.min(k, g.ranked.length);
    let dcg = 0;
    let hit = 0;
    for (let r = 0; r < top; r++) {
      if (labels[g.ranked[r]] === 1) {
        dcg += discount[r];
        hit = 1;
      }
    }
    let idcg = 0;
    for (let r = 0, ideal = Math.min(k, g.positives); r < ideal; r++) idcg += discount[r];
    ndcgSum += dcg / idcg;
    hits += hit;
    counted++;
  }
  return counted === 0 ? { ndcg: NaN, hr: NaN } : { ndcg: ndcgSum / counted, hr: hits / counted };
}

function validated(fn: string, scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<UserId>, k: number) {
  checkScores(fn, 'scores', scores);
  checkLabels(fn, labels, scores.length);
  checkUsers(fn, users, scores.length);
  checkK(fn, 'k', k);
  return rankingOfGroups(rankRowsByUser(scores, labels, users), labels, k);
}

/**
 * NDCG@K averaged over users with at least one positive row.
 *
 * Per user, rows are ranked by score descending; among equal scores negatives rank before
 * positives (ties never count in the model's favour: a constant scorer gets no credit), then
 * input order. The authors' code keeps input order instead, which rewards ties whenever the
 * positive row comes first, as it does in duet-seq-v1 files.
 * DCG = Σ over positives at rank r < K (r from 0) of 1/log2(r + 2); IDCG is the DCG of the best
 * ranking, using min(K, #positives) positions. Rows may come in any order; they are grouped here.
 *
 * @param scores One score per row (logits or probabilities; only the order matters). NaN is rejected.
 * @param labels One label per row, each exactly 0 or 1.
 * @param users One user id per row (number or string).
 * @param k The cut-off, a positive integer.
 * @returns The mean NDCG@K in [0, 1], or `NaN` when no user has a positive row.
 * @throws When lengths differ, a label is not 0/1, a score or user id is NaN, k is not a positive integer, or the input is empty.
 * @example
 * ```ts
 * // One user; the positive is ranked second of three: 1/log2(3) ≈ 0.6309.
 * ndcgAtK([0.9, 0.5, 0.1], [0, 1, 0], [7, 7, 7], 2); // 0.6309…
 * ```
 */
export function ndcgAtK(scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<UserId>, k: number): number {
  return validated('ndcgAtK', scores, labels, users, k).ndcg;
}

/**
 * Hit rate at K: the share of users (with at least one positive row) who have a positive among
 * their K highest-scored rows. Ranking and tie-breaking as in {@link ndcgAtK}.
 *
 * @param scores One score per row (logits or probabilities; only the order matters). NaN is rejected.
 * @param labels One label per row, each exactly 0 or 1.
 * @param users One user id per row (number or string).
 * @param k The cut-off, a positive integer.
 * @returns The mean HR@K in [0, 1], or `NaN` when no user has a positive row.
 * @throws As {@link ndcgAtK}.
 * @example
 * ```ts
 * // User 1's positive is ranked 2nd (a hit at K = 2), user 2's is ranked 3rd (a miss).
 * hrAtK([0.9, 0.5, 0.1, 0.3, 0.2, 0.1], [0, 1, 0, 0, 0, 1], [1, 1, 1, 2, 2, 2], 2); // 0.5
 * ```
 */
export function hrAtK(scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<UserId>, k: number): number {
  return validated('hrAtK', scores, labels, users, k).hr;
}
