import { describe, expect, test } from 'vitest';
import { auc } from '../../src/eval/auc';
import { evaluateRanking } from '../../src/eval/evaluate_ranking';
import { logloss } from '../../src/eval/logloss';
import { hrAtK, ndcgAtK } from '../../src/eval/ranking';
import { uauc } from '../../src/eval/uauc';
import { groupedRows, permutation, reorder, rng } from './helpers';

/** The reference code's grouping: consecutive runs of equal user ids (wrong on unsorted rows). */
function contiguousHr(scores: number[], labels: number[], users: number[], k: number): number {
  let hits = 0;
  let counted = 0;
  for (let start = 0; start < users.length; ) {
    let end = start;
    while (end < users.length && users[end] === users[start]) end++;
    const rows = Array.from({ length: end - start }, (_, j) => start + j).sort((a, b) => scores[b] - scores[a]);
    if (rows.some((i) => labels[i] === 1)) {
      counted++;
      hits += rows.slice(0, k).some((i) => labels[i] === 1) ? 1 : 0;
    }
    start = end;
  }
  return hits / counted;
}

describe('evaluateRanking', () => {
  const data = groupedRows(120, 10, 3, 2); // 120 users × 10 rows, 2 positives each

  test('returns the protocol keys in order, equal to the single metrics', () => {
    const { scores, labels, users } = data;
    const report = evaluateRanking(scores, labels, users);
    expect(Object.keys(report)).toEqual([
      'auc', 'uauc', 'logloss', 'ndcg@5', 'hr@5', 'ndcg@10', 'hr@10', 'ndcg@20', 'hr@20', 'users', 'rows',
    ]);
    expect(report.auc).toBe(auc(scores, labels));
    expect(report.uauc).toBe(uauc(scores, labels, users));
    // fromLogits defaults to true here (unlike logloss itself).
    expect(report.logloss).toBe(logloss(scores, labels, { fromLogits: true }));
    for (const k of [5, 10, 20]) {
      expect(report[`ndcg@${k}`]).toBe(ndcgAtK(scores, labels, users, k));
      expect(report[`hr@${k}`]).toBe(hrAtK(scores, labels, users, k));
    }
    expect(report.users).toBe(120);
    expect(report.rows).toBe(1200);
    expect(report['hr@10']).toBe(1); // every user has ≤ 10 rows
  });

  test('hand-computed small report with custom ks', () => {
    // user 1: 2.1(1) > −0.3(0); user 2: 1.5(1) > 0.4(0): every user AUC 1 and a hit at K = 1.
    // Over all rows: positives 2.1, 1.5 beat negatives 0.4, −0.3 → AUC 1.
    const report = evaluateRanking([2.1, -0.3, 0.4, 1.5], [1, 0, 0, 1], [1, 1, 2, 2], { ks: [1] });
    expect(report).toEqual({
      auc: 1,
      uauc: 1,
      logloss: logloss([2.1, -0.3, 0.4, 1.5], [1, 0, 0, 1], { fromLogits: true }),
      'ndcg@1': 1,
      'hr@1': 1,
      users: 2,
      rows: 4,
    });
  });

  test('fromLogits: false takes probabilities and rejects logits', () => {
    const probs = [0.9, 0.2, 0.3, 0.6];
    const report = evaluateRanking(probs, [1, 0, 0, 1], [1, 1, 2, 2], { fromLogits: false, ks: [] });
    expect(report.logloss).toBe(logloss(probs, [1, 0, 0, 1]));
    expect(() => evaluateRanking([2.1, -0.3], [1, 0], [1, 1], { fromLogits: false })).toThrow(
      "'scores' passed to 'evaluateRanking' must be probabilities in [0, 1] (pass { fromLogits: true } for logits), got 2.1 at index 0",
    );
  });

  test('ranks by raw logits, not by saturated probabilities', () => {
    // sigmoid(40) and sigmoid(50) are both exactly 1 in float64; the logits still rank 50 first.
    const report = evaluateRanking([40, 50], [0, 1], [1, 1], { ks: [1] });
    expect(report['hr@1']).toBe(1);
    expect(report.uauc).toBe(1);
  });

  test('interleaved and shuffled rows give exactly the grouped result', () => {
    const { scores, labels, users } = data;
    const grouped = evaluateRanking(scores, labels, users);
    for (const seed of [31, 32]) {
      const p = permutation(scores.length, seed);
      const shuffled = evaluateRanking(reorder(scores, p), reorder(labels, p), reorder(users, p));
      const { logloss: ll, ...rest } = shuffled;
      const { logloss: llGrouped, ...restGrouped } = grouped;
      expect(rest).toEqual(restGrouped); // bit-identical: per-user means are summed in a canonical user order
      expect(ll).toBeCloseTo(llGrouped, 12); // a plain sum over rows: only the rounding may differ
      // The shuffle really splits users apart: the reference grouping gets a different answer.
      expect(contiguousHr(reorder(scores, p), reorder(labels, p), reorder(users, p), 5)).not.toBeCloseTo(grouped['hr@5'], 2);
    }
    // Round-robin interleaving (user 0, user 1, …, user 0, …).
    const rr = Array.from({ length: scores.length }, (_, i) => (i % 120) * 10 + Math.floor(i / 120));
    const { logloss: _ll, ...interleaved } = evaluateRanking(reorder(scores, rr), reorder(labels, rr), reorder(users, rr));
    const { logloss: _llg, ...restGrouped } = grouped;
    expect(interleaved).toEqual(restGrouped);
  });

  test('handles 250k rows (5000 users × 50) in one pass', () => {
    const r = rng(42);
    const n = 250_000;
    const scores = new Float32Array(n);
    const labels = new Uint8Array(n);
    const users = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      users[i] = Math.floor(r() * 5000); // unsorted users
      labels[i] = r() < 0.02 ? 1 : 0;
      scores[i] = (r() - 0.5) * 6 + labels[i];
    }
    const report = evaluateRanking(scores, labels, users);
    expect(report.rows).toBe(n);
    expect(report.users).toBe(5000);
    expect(report.auc).toBeGreaterThan(0.55);
    expect(report['hr@5']).toBeLessThanOrEqual(report['hr@10']);
    expect(report['hr@10']).toBeLessThanOrEqual(report['hr@20']);
    for (const v of Object.values(report)) expect(Number.isFinite(v)).toBe(true);
  });

  test('errors name the function, the argument and the problem', () => {
    const { scores, labels, users } = data;
    expect(() => evaluateRanking(scores, labels, users, { ks: [5, 2.5] })).toThrow(
      "'ks' passed to 'evaluateRanking' must hold positive integers, got 2.5 at index 1",
    );
    expect(() => evaluateRanking(scores, labels, users, { ks: [-1] })).toThrow(
      "'ks' passed to 'evaluateRanking' must hold positive integers, got -1 at index 0",
    );
    expect(() => evaluateRanking(scores, labels.slice(1), users)).toThrow(
      "'labels' passed to 'evaluateRanking' must have the same length as 'scores' (1200), got 1199",
    );
    expect(() => evaluateRanking([0.1, 0.2], [0, 0.5], [1, 1])).toThrow(
      "'labels' passed to 'evaluateRanking' must be 0 or 1, got 0.5 at index 1",
    );
    expect(() => evaluateRanking([NaN, 0.2], [0, 1], [1, 1])).toThrow(
      "'scores' passed to 'evaluateRanking' must hold numbers (not NaN), got NaN at index 0",
    );
    expect(() => evaluateRanking([0.1, 0.2], [0, 1], [1, null] as unknown as number[])).toThrow(
      "'users' passed to 'evaluateRanking' must hold strings or numbers (not NaN), got null at index 1",
    );
  });
});
