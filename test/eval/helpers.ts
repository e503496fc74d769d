// Seeded random data and brute-force metrics for the metric tests (not a test file itself).

import { mulberry32 } from '../../src/data/rng';

/** The library's seeded PRNG (mulberry32), floats in [0, 1). */
export const rng = mulberry32;

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): number[] {
  const r = rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Rows grouped contiguously by user: `rowsPerUser` rows each, the first `positivesPerUser` labelled 1. */
export function groupedRows(
  userCount: number,
  rowsPerUser: number,
  seed: number,
  positivesPerUser = 1,
): { scores: number[]; labels: number[]; users: number[] } {
  const r = rng(seed);
  const scores: number[] = [];
  const labels: number[] = [];
  const users: number[] = [];
  for (let u = 0; u < userCount; u++) {
    for (let j = 0; j < rowsPerUser; j++) {
      // Continuous scores: ties have probability ~0, so ranking does not depend on row order.
      scores.push(r() * 8 - 4 + (j < positivesPerUser ? 1 : 0));
      labels.push(j < positivesPerUser ? 1 : 0);
      users.push(1000 + u);
    }
  }
  return { scores, labels, users };
}

/** Reorders every column by `perm`. */
export function reorder<T>(xs: readonly T[], perm: readonly number[]): T[] {
  return perm.map((i) => xs[i]);
}

/**
 * HR@K and NDCG@K (K = 5, 10, 20) by their definitions, from each user's 0-based rank: the
 * brute-force side the ranking tests compare the library's metrics with.
 */
export function bruteMetrics(ranks: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [5, 10, 20]) {
    out[`hr@${k}`] = ranks.filter((r) => r < k).length / ranks.length;
    out[`ndcg@${k}`] = ranks.reduce((s, r) => s + (r < k ? 1 / Math.log2(r + 2) : 0), 0) / ranks.length;
  }
  return out;
}
