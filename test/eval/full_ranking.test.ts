import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { buildSeqLooSplit, seqLooHistory, seqLooTarget, type SeqLooSplit } from '../../src/data/protocols/seq_loo';
import { createRng } from '../../src/data/rng';
import { evaluateFullRanking } from '../../src/eval/full_ranking/evaluate_full_ranking';
import { popularityRanking, trainingCounts } from '../../src/eval/full_ranking/popularity';
import { FullRankingMetrics, targetRank } from '../../src/eval/full_ranking/ranks';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { splitTwoTower } from '../../src/wrap/two_tower';
import { bruteMetrics } from './helpers';

/** The protocol's rank by its definition: items ≠ target, outside the history, scored ≥ the target. */
function bruteRank(scores: number[], target: number, history: number[]): number {
  const t = scores[target - 1];
  let r = 0;
  scores.forEach((s, j) => {
    const item = j + 1;
    if (item !== target && !history.includes(item) && (s >= t || Number.isNaN(s))) r++;
  });
  return r;
}

function randomSplit(users: number, items: number, seed: number): SeqLooSplit {
  const rng = createRng(seed);
  return buildSeqLooSplit(Array.from({ length: users }, (_, u) => ({
    user: String(u + 1),
    items: Array.from({ length: 3 + rng.int(9) }, () => String(1 + rng.int(items))),
  })));
}

describe('targetRank', () => {
  it('counts ties and NaN against the model, removes the history but never the target', () => {
    const seen = new Int32Array(6);
    const scores = Float32Array.of(0.9, 0.5, 0.5, 0.1, NaN);
    expect(targetRank(scores, 0, 5, 2, [], seen, 1)).toBe(3);      // 0.9, the tie, NaN
    expect(targetRank(scores, 0, 5, 2, [1, 1, 3], seen, 2)).toBe(1); // only NaN is left above
    expect(targetRank(scores, 0, 5, 2, [2, 5], seen, 3)).toBe(2);    // the target stays in the ranking
    expect(targetRank(scores, 0, 5, 5, [], seen, 4)).toBe(4);        // a NaN target ranks last
    expect(targetRank(scores, 0, 5, 1, [], seen, 5)).toBe(1);        // only NaN counts above 0.9
    expect(() => targetRank(scores, 0, 5, 6, [], seen, 6)).toThrow(/1\.\.5/);
  });

  it('agrees with the definition on random scores with many ties', () => {
    const rng = createRng(4);
    const metrics = new FullRankingMetrics();
    const ranks: number[] = [];
    const n = 40;
    const seen = new Int32Array(n + 1);
    for (let u = 1; u <= 300; u++) {
      const scores = Array.from({ length: n }, () => Math.round(rng.next() * 6) / 6); // 7 distinct values
      const target = 1 + rng.int(n);
      const history = Array.from({ length: rng.int(12) }, () => 1 + rng.int(n));
      const r = targetRank(Float32Array.from(scores), 0, n, target, history, seen, u);
      expect(r).toBe(bruteRank(scores, target, history));
      metrics.add(r);
      ranks.push(r);
    }
    const report = metrics.report();
    for (const [key, value] of Object.entries(bruteMetrics(ranks))) expect(report[key as 'hr@5']).toBeCloseTo(value, 12);
    expect(report.users).toBe(300);
  });
});

describe('popularityRanking', () => {
  it('ranks by training counts, the history removed', () => {
    const split = randomSplit(60, 25, 1);
    const counts = Array.from(trainingCounts(split));
    for (const part of ['validation', 'test'] as const) {
      const ranks = Array.from({ length: split.numUsers }, (_, i) => bruteRank(counts,
        seqLooTarget(split, i + 1, part), Array.from(seqLooHistory(split, i + 1, part))));
      const report = popularityRanking(split, part);
      for (const [key, value] of Object.entries(bruteMetrics(ranks))) expect(report[key as 'hr@5']).toBeCloseTo(value, 12);
    }
    // Only training sequences count: a user's last two items are not in them.
    const one = buildSeqLooSplit([{ user: 'a', items: ['x', 'y', 'z', 'w'] }]);
    expect(Array.from(trainingCounts(one))).toEqual([1, 1, 0, 0]);
  });
});

describe('evaluateFullRanking', () => {
  const split = randomSplit(40, 25, 2);
  const build = (extra: Record<string, unknown>) => createModel({
    numItems: split.numItems, clickLength: 4, dim: 8, seed: 5, ...extra,
  } as CreateModelOptions).model;

  it.each([
    ['sasrec', { model: 'sasrec', numHeads: 2, itemBias: true }],
    ['gru4rec duet', { model: 'gru4rec', variant: 'duet', generator: { init: 'glorot', decoder: 'lowrank' } }],
  ])('%s: equals scoring every item one by one with the model', async (_, extra) => {
    const model = build(extra);
    const parts = splitTwoTower(model) as NonNullable<ReturnType<typeof splitTwoTower>>;
    const before = tf.memory().numTensors;
    for (const part of ['validation', 'test'] as const) {
      // Brute force: the whole model on (history, item) for every user and item, in one batch.
      const n = split.numItems;
      const targets: number[][] = [];
      const clicks: number[][] = [];
      for (let u = 1; u <= split.numUsers; u++) {
        const click = [...Array.from(seqLooHistory(split, u, part)).slice(-4), 0, 0, 0, 0].slice(0, 4);
        for (let j = 1; j <= n; j++) { targets.push([j]); clicks.push(click); }
      }
      const all = tf.tidy(() => (model.predict([tf.tensor2d(targets), tf.tensor2d(clicks)]) as tf.Tensor).dataSync());
      const ranks = Array.from({ length: split.numUsers }, (__, i) => bruteRank(Array.from(all.subarray(i * n, i * n + n)),
        seqLooTarget(split, i + 1, part), Array.from(seqLooHistory(split, i + 1, part))));
      const report = await evaluateFullRanking(model, split, { part, batchSize: 16 });
      for (const [key, value] of Object.entries(bruteMetrics(ranks))) expect(report[key as 'hr@5']).toBeCloseTo(value, 5);
      expect(report.users).toBe(split.numUsers);
    }
    expect(parts.dim).toBe(8);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses what it cannot rank', async () => {
    await expect(evaluateFullRanking(build({ model: 'din' }), split, { part: 'test' }))
      .rejects.toThrow(/must be two-tower.*sampled candidates/);
    await expect(evaluateFullRanking(build({ model: 'gru4rec' }), split, { part: 'train' as never }))
      .rejects.toThrow(/'part'/);
  });
});
