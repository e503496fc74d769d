import { describe, expect, test } from 'vitest';
import { uauc } from '../../src/eval/uauc';
import { groupedRows, permutation, reorder } from './helpers';

// user 1: positive 0.9 vs negatives 0.1, 0.5 → AUC 1.
// user 2: positive 0.2 vs negatives 0.6, 0.4 → AUC 0.
// user 3: positives 0.3, 0.7 vs negatives 0.5, 0.1 → 0.3<0.5, 0.3>0.1, 0.7>both → 3/4.
// user 4: only negatives, user 5: only a positive → both skipped.
// UAUC = (1 + 0 + 3/4) / 3 = 7/12.
const scores = [0.9, 0.1, 0.5, 0.2, 0.6, 0.4, 0.3, 0.7, 0.5, 0.1, 0.8, 0.2, 0.05];
const labels = [1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1];
const users = [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5];

describe('uauc', () => {
  test('hand-computed example, skipping one-label users', () => {
    expect(uauc(scores, labels, users)).toBeCloseTo(7 / 12, 15);
  });

  test('ties within a user count half', () => {
    // user 'a': positive 0.5 ties negative 0.5 (1/2), beats 0.1 (1) → 3/4; user 'b': 1.
    expect(uauc([0.5, 0.5, 0.1, 0.9, 0.2], [1, 0, 0, 1, 0], ['a', 'a', 'a', 'b', 'b'])).toBeCloseTo(7 / 8, 15);
  });

  test('interleaved and shuffled rows give exactly the grouped result', () => {
    for (const seed of [11, 12, 13]) {
      const p = permutation(scores.length, seed);
      expect(uauc(reorder(scores, p), reorder(labels, p), reorder(users, p))).toBe(uauc(scores, labels, users));
    }
    const big = groupedRows(150, 8, 5, 2);
    const grouped = uauc(big.scores, big.labels, big.users);
    const p = permutation(big.scores.length, 99);
    expect(uauc(reorder(big.scores, p), reorder(big.labels, p), reorder(big.users, p))).toBe(grouped);
  });

  test('returns NaN when no user has both labels', () => {
    expect(uauc([0.1, 0.2, 0.3], [1, 1, 0], [1, 1, 2])).toBeNaN();
  });

  test('accepts typed arrays and string user ids', () => {
    const s = new Float32Array([0.9, 0.1, 0.2, 0.6]);
    const y = new Uint8Array([1, 0, 1, 0]);
    expect(uauc(s, y, new Int32Array([3, 3, 4, 4]))).toBe(0.5);
    expect(uauc(s, y, ['u3', 'u3', 'u4', 'u4'])).toBe(0.5);
  });

  test('errors name the function, the argument and the problem', () => {
    expect(() => uauc([0.1, 0.2], [0, 1], [1])).toThrow(
      "'users' passed to 'uauc' must have the same length as 'scores' (2), got 1",
    );
    expect(() => uauc([0.1, 0.2], [0, 1], [1, NaN])).toThrow(
      "'users' passed to 'uauc' must hold strings or numbers (not NaN), got NaN at index 1",
    );
    expect(() => uauc([0.1, 0.2], [0, 1, 1], [1, 1])).toThrow(
      "'labels' passed to 'uauc' must have the same length as 'scores' (2), got 3",
    );
    expect(() => uauc([0.1, 0.2], [true, 1] as unknown as number[], [1, 1])).toThrow(
      "'labels' passed to 'uauc' must be 0 or 1, got true at index 0",
    );
  });
});
