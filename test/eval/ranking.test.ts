import { describe, expect, test } from 'vitest';
import { hrAtK, ndcgAtK } from '../../src/eval/ranking';
import { permutation, reorder } from './helpers';

// user 'a' ranked: 0.9(0) 0.8(1) 0.7(0) 0.6(1), 2 positives.
// user 'b' ranked: 0.5(0) 0.3(0) 0.1(1), 1 positive.
// user 'c': no positive → skipped.
// user 'd' ranked: 0.4(1) 0.2(1), 2 positives.
const scores = [0.9, 0.8, 0.7, 0.6, 0.1, 0.5, 0.3, 0.4, 0.6, 0.4, 0.2];
const labels = [0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1];
const users = ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'd', 'd'];
const g = 1 / Math.log2(3); // 0.6309297535714575, the discount at rank 1

describe('ndcgAtK and hrAtK', () => {
  test('K = 2, hand-computed', () => {
    // a: DCG = 1/log2(3) = 0.63093, IDCG (2 positives) = 1 + 0.63093 → 0.38685; hit.
    // b: no positive in the top 2 → 0; miss.  d: both positives on top → 1; hit.
    // NDCG@2 = (0.38685 + 0 + 1) / 3 = 0.46228; HR@2 = 2/3.
    expect(ndcgAtK(scores, labels, users, 2)).toBeCloseTo((g / (1 + g) + 1) / 3, 15);
    expect(ndcgAtK(scores, labels, users, 2)).toBeCloseTo(0.46228426907818054, 15);
    expect(hrAtK(scores, labels, users, 2)).toBeCloseTo(2 / 3, 15);
  });

  test('K = 1, hand-computed', () => {
    // Top rows: a 0.9(0), b 0.5(0), d 0.4(1) → NDCG@1 = HR@1 = 1/3.
    expect(ndcgAtK(scores, labels, users, 1)).toBeCloseTo(1 / 3, 15);
    expect(hrAtK(scores, labels, users, 1)).toBeCloseTo(1 / 3, 15);
  });

  test('K larger than a user\'s row count', () => {
    // a: DCG = 1/log2 3 + 1/log2 5 = 1.06161, IDCG = 1.63093 → 0.65092.
    // b: DCG = 1/log2 4 = 0.5, IDCG = 1 → 0.5.  d: 1.  Mean = 0.71697; every user hits.
    expect(ndcgAtK(scores, labels, users, 5)).toBeCloseTo(((g + 1 / Math.log2(5)) / (1 + g) + 0.5 + 1) / 3, 15);
    expect(ndcgAtK(scores, labels, users, 5)).toBeCloseTo(0.7169736432690442, 15);
    expect(hrAtK(scores, labels, users, 5)).toBe(1);
  });

  test('IDCG uses min(K, #positives) ideal positions', () => {
    // Ranked 0.95(0) 0.9(1) 0.8(1) 0.1(1); K = 2: DCG = 1/log2 3; IDCG = 1 + 1/log2 3 (not 3 positions).
    expect(ndcgAtK([0.1, 0.9, 0.8, 0.95], [1, 1, 1, 0], [7, 7, 7, 7], 2)).toBeCloseTo(g / (1 + g), 15);
  });

  test('ties never count in the model\'s favour: tied negatives rank before the positive', () => {
    // All three rows tie: the positive ranks last wherever it sits.
    expect(hrAtK([0.5, 0.5, 0.5], [0, 0, 1], [1, 1, 1], 1)).toBe(0);
    expect(hrAtK([0.5, 0.5, 0.5], [1, 0, 0], [1, 1, 1], 1)).toBe(0);
    expect(hrAtK([0.5, 0.5, 0.5], [1, 0, 0], [1, 1, 1], 3)).toBe(1);
    // Positive tied with one of two negatives, below the other: rank 2 of 3 → 1/log2(4) = 0.5.
    expect(ndcgAtK([0.9, 0.5, 0.5], [0, 1, 0], [1, 1, 1], 3)).toBeCloseTo(0.5, 15);
    // Two tied positives keep input order between themselves.
    expect(ndcgAtK([0.5, 0.5, 0.1], [1, 1, 0], [1, 1, 1], 2)).toBeCloseTo(1, 15);
    // A constant scorer over 1 positive + 49 negatives: HR@10 is 0, not the 1 a stable sort gives
    // on positive-first rows (duet-seq-v1 order).
    const n = 50;
    const flat = new Array(n).fill(0);
    const labels50 = flat.map((_, i) => (i === 0 ? 1 : 0));
    expect(hrAtK(flat, labels50, flat.map(() => 1), 10)).toBe(0);
    // Rows of another user in between do not change a user's ranking.
    expect(hrAtK([0.5, 0.9, 0.5, 0.1, 0.6], [1, 1, 0, 0, 0], [1, 2, 1, 2, 1], 1)).toBe(1 / 2);
  });

  test('shuffled rows give exactly the grouped result (distinct scores)', () => {
    for (const seed of [21, 22, 23]) {
      const p = permutation(scores.length, seed);
      const [s, y, u] = [reorder(scores, p), reorder(labels, p), reorder(users, p)];
      for (const k of [1, 2, 3]) {
        // Scores are distinct within each user, so no tie depends on row order.
        expect(ndcgAtK(s, y, u, k)).toBe(ndcgAtK(scores, labels, users, k));
        expect(hrAtK(s, y, u, k)).toBe(hrAtK(scores, labels, users, k));
      }
    }
  });

  test('returns NaN when no user has a positive', () => {
    expect(ndcgAtK([0.1, 0.2], [0, 0], [1, 2], 5)).toBeNaN();
    expect(hrAtK([0.1, 0.2], [0, 0], [1, 2], 5)).toBeNaN();
  });

  test('errors name the function, the argument and the problem', () => {
    expect(() => ndcgAtK(scores, labels, users, 0)).toThrow("'k' passed to 'ndcgAtK' must be a positive integer, got 0");
    expect(() => hrAtK(scores, labels, users, 2.5)).toThrow("'k' passed to 'hrAtK' must be a positive integer, got 2.5");
    expect(() => hrAtK(scores, labels, users, NaN)).toThrow("'k' passed to 'hrAtK' must be a positive integer, got NaN");
    expect(() => ndcgAtK(scores, labels, users.slice(1), 2)).toThrow(
      "'users' passed to 'ndcgAtK' must have the same length as 'scores' (11), got 10",
    );
    expect(() => hrAtK([0.1, NaN], [0, 1], [1, 1], 1)).toThrow(
      "'scores' passed to 'hrAtK' must hold numbers (not NaN), got NaN at index 1",
    );
  });
});
