import { aucOfRanked } from './auc';
import { rankRowsByUser, type UserRows } from './group_by_user';
import { checkLabels, checkScores, checkUsers, type UserId } from './validate';

/** Mean per-user AUC over grouped rows, skipping one-label users; NaN when none is left. Internal. */
export function uaucOfGroups(groups: readonly UserRows[], scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  let counted = 0;
  for (const g of groups) {
    if (g.positives === 0 || g.positives === g.ranked.length) continue;
    sum += aucOfRanked(g.ranked, scores, labels);
    counted++;
  }
  return counted === 0 ? NaN : sum / counted;
}

/**
 * User AUC: the unweighted mean over users of each user's AUC (see {@link auc}; ties count 1/2),
 * skipping users whose rows all carry the same label.
 *
 * Rows are grouped by user here, in any order: interleaved or shuffled rows give exactly the same
 * result as rows sorted by user (the reference code silently assumed contiguous users).
 *
 * @param scores One score per row (logits or probabilities; only the order matters). NaN is rejected.
 * @param labels One label per row, each exactly 0 or 1.
 * @param users One user id per row (number or string; rows with equal ids belong together).
 * @returns The mean per-user AUC, or `NaN` when no user has both a positive and a negative row.
 * @throws When lengths differ, a label is not 0/1, a score or user id is NaN, or the input is empty.
 * @example
 * ```ts
 * // user 1: AUC 1; user 2: AUC 0; user 3 has no negative and is skipped.
 * uauc([0.9, 0.1, 0.2, 0.6, 0.5], [1, 0, 1, 0, 1], [1, 1, 2, 2, 3]); // 0.5
 * ```
 */
export function uauc(scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<UserId>): number {
  checkScores('uauc', 'scores', scores);
  checkLabels('uauc', labels, scores.length);
  checkUsers('uauc', users, scores.length);
  return uaucOfGroups(rankRowsByUser(scores, labels, users), scores, labels);
}
