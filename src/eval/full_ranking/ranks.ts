/**
 * The rank of a held-out target among every item of the catalogue, and the HR@K / NDCG@K that
 * follow from it (protocol seq-loo-v1, rules 4 and 5). Browser-safe.
 */

/**
 * The cut-offs every full-ranking report carries.
 *
 * @example
 * ```ts
 * FULL_RANKING_KS.map((k) => report[`ndcg@${k}`]);
 * ```
 */
export const FULL_RANKING_KS = [5, 10, 20] as const;

/**
 * HR@K and NDCG@K for K = 5, 10, 20, averaged over users, and how many users were ranked.
 *
 * @example
 * ```ts
 * const report: FullRankingReport = await evaluateFullRanking(model, split, { part: 'validation' });
 * report['ndcg@10'];
 * ```
 */
export interface FullRankingReport {
  'hr@5': number;
  'ndcg@5': number;
  'hr@10': number;
  'ndcg@10': number;
  'hr@20': number;
  'ndcg@20': number;
  /** Users ranked. */
  users: number;
}

/**
 * The rank r (from 0) of `target` among items 1..numItems scored by `scores` (item i's score at
 * `scores[offset + i - 1]`), with the items of `exclude` taken out of the ranking — the target
 * itself never is. r counts the remaining items scored at least as high as the target: ties
 * count against the model, and a NaN score counts as above the target (a NaN target ranks last).
 *
 * @param scores Scores of the catalogue (a row of a `[users, numItems]` table).
 * @param offset Where the row starts in `scores`.
 * @param numItems Catalogue size N.
 * @param target The held-out item, 1..N.
 * @param exclude Items to remove (the user's history; repeats and the target are fine).
 * @param seen Scratch space of `numItems + 1` entries, reused across calls (no allocation per user).
 * @param stamp A value not yet written into `seen` by an earlier call (e.g. a running user number ≥ 1).
 * @example
 * ```ts
 * const seen = new Int32Array(5);
 * targetRank(Float32Array.of(0.9, 0.5, 0.5, 0.1), 0, 4, 2, [1], seen, 1); // 1: item 3 ties, item 1 is history
 * ```
 */
export function targetRank(scores: ArrayLike<number>, offset: number, numItems: number,
    target: number, exclude: ArrayLike<number>, seen: Int32Array, stamp: number): number {
  if (!Number.isInteger(target) || target < 1 || target > numItems) {
    throw new Error(`'target' passed to 'targetRank' must be an item id in 1..${numItems}, got ${String(target)}`);
  }
  const threshold = scores[offset + target - 1];
  if (Number.isNaN(threshold)) return numItems - 1;
  let above = 0;
  for (let j = 0; j < numItems; j++) {
    const v = scores[offset + j];
    // `!(v < threshold)`: at least as high, or NaN.
    if (!(v < threshold)) above++;
  }
  above--; // the target itself
  seen[target] = stamp;
  for (let i = 0; i < exclude.length; i++) {
    const item = exclude[i];
    if (item < 1 || item > numItems || seen[item] === stamp) continue;
    seen[item] = stamp;
    if (!(scores[offset + item - 1] < threshold)) above--;
  }
  return above;
}

/**
 * Sums HR@K and NDCG@K over users from their ranks; {@link FullRankingMetrics.report} averages.
 *
 * @example
 * ```ts
 * const metrics = new FullRankingMetrics();
 * metrics.add(0); metrics.add(12);
 * metrics.report()['hr@10']; // 0.5
 * ```
 */
export class FullRankingMetrics {
  private readonly hr = new Float64Array(FULL_RANKING_KS.length);
  private readonly ndcg = new Float64Array(FULL_RANKING_KS.length);
  private count = 0;

  /** Adds one user's rank r (from 0): HR@K = [r < K], NDCG@K = 1/log2(r + 2) when r < K. */
  add(rank: number): void {
    if (!Number.isInteger(rank) || rank < 0) {
      throw new Error(`'rank' passed to 'FullRankingMetrics.add' must be a non-negative integer, got ${String(rank)}`);
    }
    this.count++;
    FULL_RANKING_KS.forEach((k, i) => {
      if (rank < k) {
        this.hr[i] += 1;
        this.ndcg[i] += 1 / Math.log2(rank + 2);
      }
    });
  }

  /** The averages over the users added (zeros when none was). */
  report(): FullRankingReport {
    const mean = (sum: number) => (this.count === 0 ? 0 : sum / this.count);
    return {
      'hr@5': mean(this.hr[0]), 'ndcg@5': mean(this.ndcg[0]),
      'hr@10': mean(this.hr[1]), 'ndcg@10': mean(this.ndcg[1]),
      'hr@20': mean(this.hr[2]), 'ndcg@20': mean(this.ndcg[2]),
      users: this.count,
    };
  }
}
