import { describe, expect, test } from 'vitest';
import { auc } from '../../src/eval/auc';
import { rng } from './helpers';

/** O(n²) reference: every (positive, negative) pair, 1 if the positive is higher, 1/2 on a tie. */
function pairwiseAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe('auc', () => {
  test('hand-computed example without ties', () => {
    // Positives 0.35, 0.8; negatives 0.1, 0.4. Pairs won: 0.35>0.1, 0.8>0.1, 0.8>0.4; lost: 0.35<0.4 → 3/4.
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });

  test('ties count half (average ranks)', () => {
    // Positives 0.5, 0.2; negatives 0.5, 0.5. The 0.5 positive ties both negatives (2 × 1/2),
    // the 0.2 positive loses both → 1/4. Average ranks ascending: 0.2→1, the three 0.5s→3;
    // R_pos = 3 + 1 = 4, U = 4 − 2·3/2 = 1, AUC = 1/(2·2) = 0.25.
    expect(auc([0.5, 0.5, 0.5, 0.2], [1, 0, 0, 1])).toBe(0.25);
    expect(auc([3, 3, 3, 3], [1, 0, 1, 0])).toBe(0.5);
  });

  test('perfect, inverted and infinite scores', () => {
    expect(auc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(auc([0.1, 0.2, 0.9], [1, 1, 0])).toBe(0);
    // +Infinity ranks first, −Infinity last; two +Infinity rows tie.
    // Positives +Inf, 0; negatives −Inf, +Inf: win + tie (1/2) + win + loss = 2.5 of 4 pairs.
    expect(auc([Infinity, -Infinity, Infinity, 0], [1, 0, 0, 1])).toBe(0.625);
  });

  test('does not depend on row order, even with ties', () => {
    const scores = [0.5, 0.5, 0.5, 0.2, 0.9, 0.2];
    const labels = [1, 0, 0, 1, 0, 1];
    const expected = auc(scores, labels);
    expect(auc([...scores].reverse(), [...labels].reverse())).toBe(expected);
  });

  test('returns NaN when only one class is present', () => {
    expect(auc([0.2, 0.7], [1, 1])).toBeNaN();
    expect(auc([0.2, 0.7], [0, 0])).toBeNaN();
  });

  test('accepts typed arrays', () => {
    expect(auc(new Float32Array([0.1, 0.4, 0.35, 0.8]), new Uint8Array([0, 0, 1, 1]))).toBe(0.75);
    expect(auc(new Float64Array([0.1, 0.4, 0.35, 0.8]), new Int32Array([0, 0, 1, 1]))).toBe(0.75);
  });

  test('matches a brute-force pairwise AUC on random data with many ties', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const n = 400;
      // Scores rounded to one decimal: ~20 distinct values, so most rows tie with others.
      const scores = Float64Array.from({ length: n }, () => Math.round(r() * 20) / 10 - 1);
      const labels = Uint8Array.from({ length: n }, (_, i) => (r() < 0.3 + 0.2 * scores[i] ? 1 : 0));
      expect(auc(scores, labels)).toBeCloseTo(pairwiseAuc(scores, labels), 12);
    }
  });

  test('matches a brute-force pairwise AUC on continuous random data', () => {
    const r = rng(7);
    const scores = Array.from({ length: 300 }, () => r());
    const labels = scores.map((s) => (r() < s ? 1 : 0));
    expect(auc(scores, labels)).toBeCloseTo(pairwiseAuc(scores, labels), 12);
  });

  test('errors name the function, the argument and the problem', () => {
    expect(() => auc([0.1, 0.2, 0.3], [0, 1])).toThrow(
      "'labels' passed to 'auc' must have the same length as 'scores' (3), got 2",
    );
    expect(() => auc([0.1, 0.2, 0.3], [0, 1, 2])).toThrow("'labels' passed to 'auc' must be 0 or 1, got 2 at index 2");
    expect(() => auc([0.1, 0.2, 0.3], [0, -1, 0.5])).toThrow("'labels' passed to 'auc' must be 0 or 1, got -1 at index 1");
    expect(() => auc([0.1, NaN, 0.3], [0, 1, 0])).toThrow(
      "'scores' passed to 'auc' must hold numbers (not NaN), got NaN at index 1",
    );
    expect(() => auc([], [])).toThrow("'scores' passed to 'auc' must not be empty");
    expect(() => auc(undefined as unknown as number[], [])).toThrow(
      "'scores' passed to 'auc' must be an array or a typed array, got undefined",
    );
  });
});
