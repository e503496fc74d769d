import { auc } from './auc';
import { rankRowsByUser } from './group_by_user';
import { meanBce } from './logloss';
import { rankingOfGroups } from './ranking';
import { uaucOfGroups } from './uauc';
import { checkK, checkLabels, checkScores, checkUsers, type UserId } from './validate';

/** Options of {@link evaluateRanking}. */
export interface EvaluateRankingOptions {
  /** Cut-offs for `ndcg@K` and `hr@K`, each a positive integer. Default `[5, 10, 20]` (the protocol's). */
  ks?: readonly number[];
  /** Scores are logits: logloss applies the sigmoid first. Default `true`. Ranking metrics always use the raw scores. */
  fromLogits?: boolean;
}

/** The metrics of {@link evaluateRanking}; the keys match the reference script's JSON lines. */
export interface RankingReport {
  /** AUC over all rows (see `auc`); NaN when one class only. */
  auc: number;
  /** Mean per-user AUC, skipping one-label users (see `uauc`); NaN when no user has both labels. */
  uauc: number;
  /** Mean binary cross-entropy, ε = 1e-7 clipping (see `logloss`). */
  logloss: number;
  /** Number of distinct users. */
  users: number;
  /** Number of rows. */
  rows: number;
  /** NDCG@K for each K in `ks` (see `ndcgAtK`). */
  [ndcg: `ndcg@${number}`]: number;
  /** HR@K for each K in `ks` (see `hrAtK`). */
  [hr: `hr@${number}`]: number;
}

/**
 * All test metrics in one pass: AUC and logloss over all rows; UAUC, NDCG@K and HR@K per user.
 * Rows are grouped by user once (any row order), each user's rows sorted once: O(n log n), a few
 * hundred milliseconds for 250k rows. Definitions, ties and NaN cases are those of {@link auc},
 * {@link uauc}, {@link logloss}, {@link ndcgAtK} and {@link hrAtK}.
 *
 * Ranking metrics use the raw scores, so logits that would saturate to the same float32
 * probability still rank apart.
 *
 * @param scores One score per row: logits (default) or probabilities with `fromLogits: false`. NaN is rejected.
 * @param labels One label per row, each exactly 0 or 1.
 * @param users One user id per row (number or string).
 * @param options See {@link EvaluateRankingOptions}.
 * @returns `{ auc, uauc, logloss, 'ndcg@5', 'hr@5', 'ndcg@10', 'hr@10', 'ndcg@20', 'hr@20', users, rows }` for the default `ks`.
 * @throws When lengths differ, a label is not 0/1, a score or user id is NaN, a K is not a positive
 * integer, a probability is outside [0, 1] (with `fromLogits: false`), or the input is empty.
 * @example
 * ```ts
 * const report = evaluateRanking([2.1, -0.3, 0.4, 1.5], [1, 0, 0, 1], [1, 1, 2, 2], { ks: [1] });
 * report.uauc;     // 1
 * report['hr@1'];  // 1
 * ```
 */
export function evaluateRanking(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  users: ArrayLike<UserId>,
  options: EvaluateRankingOptions = {},
): RankingReport {
  const fn = 'evaluateRanking';
  const { ks = [5, 10, 20], fromLogits = true } = options;
  checkScores(fn, 'scores', scores);
  checkLabels(fn, labels, scores.length);
  checkUsers(fn, users, scores.length);
  if (!Array.isArray(ks)) throw new Error(`'ks' passed to '${fn}' must be an array of positive integers, got ${String(ks)}`);
  ks.forEach((k, i) => checkK(fn, 'ks', k, ` at index ${i}`));

  const groups = rankRowsByUser(scores, labels, users);
  // Key order as in the reference script's JSON lines: auc, uauc, logloss, ndcg@K/hr@K…, then counts.
  const report = {
    auc: auc(scores, labels),
    uauc: uaucOfGroups(groups, scores, labels),
    logloss: meanBce(fn, 'scores', scores, labels, fromLogits),
  } as RankingReport;
  for (const k of ks) {
    const { ndcg, hr } = rankingOfGroups(groups, labels, k);
    report[`ndcg@${k}`] = ndcg;
    report[`hr@${k}`] = hr;
  }
  report.users = groups.length;
  report.rows = scores.length;
  return report;
}
