import { describe, expect, test } from 'vitest';
import { LOGLOSS_EPSILON, logloss } from '../../src/eval/logloss';

describe('logloss', () => {
  test('hand-computed example on probabilities', () => {
    // −(ln 0.9 + ln(1 − 0.2)) / 2 = (0.1053605157 + 0.2231435513) / 2 = 0.1642520335.
    expect(logloss([0.9, 0.2], [1, 0])).toBeCloseTo(0.164252033486018, 14);
  });

  test('hand-computed example on logits', () => {
    // sigmoid(0) = 0.5 with label 1 → ln 2; sigmoid(ln 4) = 0.8 with label 0 → −ln 0.2 = ln 5.
    // (0.6931471806 + 1.6094379124) / 2 = 1.1512925465.
    expect(logloss([0, Math.log(4)], [1, 0], { fromLogits: true })).toBeCloseTo(1.1512925464970227, 14);
  });

  test('logits and their sigmoids agree', () => {
    const logits = [-3, -0.5, 0.2, 2.5, 6];
    const labels = [0, 1, 0, 1, 1];
    const probs = logits.map((z) => 1 / (1 + Math.exp(-z)));
    expect(logloss(logits, labels, { fromLogits: true })).toBeCloseTo(logloss(probs, labels), 12);
  });

  test('clips probabilities to [1e-7, 1 − 1e-7]', () => {
    expect(LOGLOSS_EPSILON).toBe(1e-7);
    // A certain miss costs −ln(1e-7) = 7 ln 10 = 16.1180956510 per row, not Infinity.
    expect(logloss([1, 0], [0, 1])).toBeCloseTo(16.11809565095832, 6);
    // A certain hit costs −ln(1 − 1e-7) ≈ 1e-7 per row, not 0.
    expect(logloss([1, 0], [1, 0])).toBeCloseTo(1e-7, 12);
    expect(logloss([1, 0], [1, 0])).toBeGreaterThan(0);
  });

  test('saturated and infinite logits stay finite', () => {
    expect(logloss([1000, -Infinity], [0, 1], { fromLogits: true })).toBeCloseTo(16.11809565095832, 6);
    expect(logloss([Infinity, -1000], [1, 0], { fromLogits: true })).toBeCloseTo(1e-7, 12);
  });

  test('accepts typed arrays', () => {
    expect(logloss(new Float64Array([0.9, 0.2]), new Uint8Array([1, 0]))).toBeCloseTo(0.164252033486018, 14);
  });

  test('errors name the function, the argument and the problem', () => {
    expect(() => logloss([0.5, 1.5], [1, 0])).toThrow(
      "'probsOrLogits' passed to 'logloss' must be probabilities in [0, 1] (pass { fromLogits: true } for logits), got 1.5 at index 1",
    );
    expect(() => logloss([0.5, 0.5], [1])).toThrow(
      "'labels' passed to 'logloss' must have the same length as 'probsOrLogits' (2), got 1",
    );
    expect(() => logloss([0.5, 0.5], [1, 3])).toThrow("'labels' passed to 'logloss' must be 0 or 1, got 3 at index 1");
    expect(() => logloss([NaN], [1], { fromLogits: true })).toThrow(
      "'probsOrLogits' passed to 'logloss' must hold numbers (not NaN), got NaN at index 0",
    );
    expect(() => logloss([], [])).toThrow("'probsOrLogits' passed to 'logloss' must not be empty");
  });
});
