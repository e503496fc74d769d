import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { always, drift, everyN } from '../../src/device/policies';
import { cosineDistance, embeddingMean, hashedBag } from '../../src/device/summaries';

const ctx = (history: number[], newInteractions: number, historyAtRequest: number[]) =>
  ({ history, newInteractions, historyAtRequest });

describe('request policies', () => {
  it('always asks', () => {
    const p = always();
    expect(p.name).toBe('always');
    expect(p.shouldRequest(ctx([1], 0, [1]))).toBe(true);
  });

  it('everyN(n) asks once n new interactions have arrived', () => {
    const p = everyN(3);
    expect(p.name).toBe('everyN(3)');
    expect([0, 1, 2, 3, 4].map((n) => p.shouldRequest(ctx([1, 2, 3], n, [1])))).toEqual([false, false, false, true, true]);
    expect(() => everyN(0)).toThrow("'n' passed to 'everyN' must be a positive integer, got 0");
  });

  it('drift asks when the recent window has moved past the threshold', () => {
    const p = drift(0.3, { window: 5 });
    const before = [1, 2, 3, 4, 5];
    expect(p.shouldRequest(ctx(before, 0, before))).toBe(false);           // nothing new
    expect(p.shouldRequest(ctx([...before, 3], 1, before))).toBe(false);   // a repeat barely moves it
    expect(p.shouldRequest(ctx([...before, 11, 12, 13, 14, 15], 5, before))).toBe(true); // all new items
    // The threshold decides: 0 asks on any change, 2 never.
    expect(drift(0, { window: 5 }).shouldRequest(ctx([...before, 6], 1, before))).toBe(true);
    expect(drift(2, { window: 5 }).shouldRequest(ctx([...before, 11, 12, 13, 14, 15], 5, before))).toBe(false);
    expect(() => drift(-1)).toThrow("'threshold' passed to 'drift' must be a non-negative number");
    expect(() => drift(0.1, { window: 0 })).toThrow("'window' passed to 'drift' must be a positive integer");
  });

  it('drift with the mean of item embeddings follows the embedding geometry', () => {
    // Items 1-3 point one way, 4-6 the other way, 7 is close to 1-3.
    const table = tf.tensor2d([[0, 0], [1, 0], [1, 0.1], [0.9, 0], [-1, 0], [-1, 0.1], [-0.9, 0], [1, 0.2]]);
    const p = drift(0.5, { summary: embeddingMean(table), window: 3 });
    expect(p.shouldRequest(ctx([1, 2, 3, 7], 1, [1, 2, 3]))).toBe(false); // similar item
    expect(p.shouldRequest(ctx([1, 2, 3, 4, 5, 6], 3, [1, 2, 3]))).toBe(true); // opposite taste
    table.dispose();
  });
});

describe('behaviour summaries', () => {
  it('hashedBag: equal windows give distance 0, disjoint ones a large distance', () => {
    const s = hashedBag(256);
    expect(cosineDistance(s([5, 6, 7]), s([7, 6, 5]))).toBeCloseTo(0, 6);
    let far = 0;
    for (let k = 0; k < 20; k++) far += cosineDistance(s([k * 3 + 1, k * 3 + 2]), s([1000 + k, 2000 + k]));
    expect(far / 20).toBeGreaterThan(0.7);
    expect(() => hashedBag(0)).toThrow("'buckets' passed to 'hashedBag' must be a positive integer");
  });

  it('embeddingMean averages rows and skips ids outside the table', () => {
    const s = embeddingMean({ values: Float32Array.from([0, 0, 2, 4, 6, 8]), dim: 2 });
    expect(Array.from(s([1, 2, 99]))).toEqual([4, 6]);
    expect(Array.from(s([]))).toEqual([0, 0]);
    expect(() => embeddingMean({ values: new Float32Array(3), dim: 2 })).toThrow("'table' passed to 'embeddingMean'");
  });

  it('cosineDistance handles zero vectors and checks lengths', () => {
    const z = new Float32Array(2);
    expect(cosineDistance(z, z)).toBe(0);
    expect(cosineDistance(z, Float32Array.from([1, 0]))).toBe(1);
    expect(cosineDistance(Float32Array.from([1, 0]), Float32Array.from([-1, 0]))).toBeCloseTo(2, 6);
    expect(() => cosineDistance(z, new Float32Array(3))).toThrow('vectors of equal length, got 2 and 3');
  });
});
