import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { buildSeqLooSplit, seqLooTarget, type SeqLooSplit } from '../../src/data/protocols/seq_loo';
import { createRng } from '../../src/data/rng';
import { trainingCounts } from '../../src/eval/full_ranking/popularity';
import { sampleLooNegatives } from '../../src/eval/sampled/sampled_negatives';
import { evaluateSampledRanking, popularitySampled, sampledRank } from '../../src/eval/sampled/sampled_ranking';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { bruteMetrics } from './helpers';

/** Users 1..users, each 3..11 items drawn from 1..items (repeats allowed). */
function randomSplit(users: number, items: number, seed: number): SeqLooSplit {
  const rng = createRng(seed);
  return buildSeqLooSplit(Array.from({ length: users }, (_, u) => ({
    user: String(u + 1),
    items: Array.from({ length: 3 + rng.int(9) }, () => String(1 + rng.int(items))),
  })));
}

/** User u's whole sequence, straight from the split's arrays. */
function sequence(split: SeqLooSplit, u: number): number[] {
  return Array.from(split.items.subarray(split.offsets[u - 1], split.offsets[u]));
}

/** The definition: negatives scored at least as high as the target (NaN counts above). */
function bruteRank(target: number, negatives: number[]): number {
  if (Number.isNaN(target)) return negatives.length;
  return negatives.filter((s) => s >= target || Number.isNaN(s)).length;
}

describe('sampleLooNegatives', () => {
  const split = randomSplit(120, 60, 1);

  it('draws distinct items outside each user\'s whole sequence, the same for the same seed, part and user', () => {
    for (const part of ['validation', 'test'] as const) {
      const c = sampleLooNegatives(split, part, { count: 20, seed: 3 });
      expect(c).toMatchObject({ part, count: 20, seed: 3, numUsers: 120 });
      expect(c.negatives.length).toBe(120 * 20);
      for (let u = 1; u <= split.numUsers; u++) {
        const mine = Array.from(c.negatives.subarray((u - 1) * 20, u * 20));
        expect(new Set(mine).size).toBe(20);
        const seq = new Set(sequence(split, u));
        for (const item of mine) {
          expect(item).toBeGreaterThanOrEqual(1);
          expect(item).toBeLessThanOrEqual(split.numItems);
          expect(seq.has(item)).toBe(false); // never the validation or test target either
        }
      }
      expect(sampleLooNegatives(split, part, { count: 20, seed: 3 }).negatives).toEqual(c.negatives);
    }
    const v = sampleLooNegatives(split, 'validation', { count: 20, seed: 3 }).negatives;
    expect(sampleLooNegatives(split, 'test', { count: 20, seed: 3 }).negatives).not.toEqual(v);
    expect(sampleLooNegatives(split, 'validation', { count: 20, seed: 4 }).negatives).not.toEqual(v);
  });

  it('depends on the user alone, not on the other users of the split', () => {
    const bigger = randomSplit(120, 60, 1);
    expect(bigger.protocol.item_ids).toBe('kept');
    // The first 50 users again, and two users who make every item 1..60 appear (ids kept alike).
    const fewer = buildSeqLooSplit([
      ...Array.from({ length: 50 }, (_, i) => ({ user: String(i + 1), items: sequence(bigger, i + 1).map(String) })),
      { user: 'x', items: Array.from({ length: 30 }, (_, i) => String(i + 1)) },
      { user: 'y', items: Array.from({ length: 30 }, (_, i) => String(i + 31)) },
    ]);
    expect(fewer.protocol.item_ids).toBe('kept');
    const a = sampleLooNegatives(bigger, 'test', { count: 10 }).negatives.subarray(0, 500);
    const b = sampleLooNegatives(fewer, 'test', { count: 10 }).negatives.subarray(0, 500);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('is uniform over the items a user never saw', () => {
    // One user with items 1..3 over a catalogue of 8: the 5 others, 4 drawn per seed.
    const one = buildSeqLooSplit([
      { user: 'a', items: ['1', '2', '3'] },
      { user: 'b', items: ['4', '5', '6', '7', '8'] },
    ]);
    const counts = new Map<number, number>();
    for (let seed = 0; seed < 2000; seed++) {
      for (const item of sampleLooNegatives(one, 'test', { count: 1, seed }).negatives.subarray(0, 1)) {
        counts.set(item, (counts.get(item) ?? 0) + 1);
      }
    }
    expect([...counts.keys()].sort()).toEqual([4, 5, 6, 7, 8]);
    for (const n of counts.values()) expect(Math.abs(n - 400)).toBeLessThan(80); // ±4.5 σ
  });

  it('refuses what it cannot draw and bad options', () => {
    expect(() => sampleLooNegatives(split, 'test')).toThrow(/cannot draw 99 negatives for user \d+: they interacted with \d+ of the 60 items/);
    expect(() => sampleLooNegatives(split, 'train' as never)).toThrow(/'part'/);
    expect(() => sampleLooNegatives(split, 'test', { count: 0 })).toThrow(/'count'.*positive integer/);
    expect(() => sampleLooNegatives(split, 'test', { seed: 0.5 })).toThrow(/'seed'/);
  });
});

describe('sampledRank', () => {
  it('counts ties and NaN against the model', () => {
    expect(sampledRank(Float32Array.of(0.5, 0.9, 0.5, 0.1), 0, 3)).toBe(2);
    expect(sampledRank(Float32Array.of(9, 0.5, 0.9, NaN, 0.1), 1, 3)).toBe(2); // offset 1: 0.9 and NaN
    expect(sampledRank(Float32Array.of(NaN, 0.1, 0.2), 0, 2)).toBe(2);         // a NaN target ranks last
    expect(sampledRank(Float32Array.of(1, 0, 0), 0, 2)).toBe(0);
  });

  it('agrees with the definition on random scores with many ties', () => {
    const rng = createRng(7);
    for (let i = 0; i < 200; i++) {
      const scores = Array.from({ length: 31 }, () => Math.round(rng.next() * 5) / 5);
      expect(sampledRank(Float32Array.from(scores), 0, 30)).toBe(bruteRank(scores[0], scores.slice(1)));
    }
  });
});

describe('evaluateSampledRanking', () => {
  const split = randomSplit(14, 70, 2);
  const L = 6;
  const build = (extra: Record<string, unknown>) => createModel({
    model: 'din', numItems: split.numItems, clickLength: L, dim: 8, seed: 5, ...extra,
  } as CreateModelOptions).model;

  it.each([
    ['din', {}],
    ['din duet', { variant: 'duet', generator: { init: 'glorot' } }],
    ['sasrec (two-tower)', { model: 'sasrec', numHeads: 2, itemBias: true }],
    ['gru4rec duet (two-tower)', { model: 'gru4rec', variant: 'duet', generator: { init: 'glorot', decoder: 'lowrank' } }],
  ])('%s: equals scoring each (history, candidate) row one by one at the full width', async (_, extra) => {
    const model = build(extra);
    const before = tf.memory().numTensors;
    for (const part of ['validation', 'test'] as const) {
      const c = sampleLooNegatives(split, part, { count: 12, seed: 1 });
      // Brute force: every user's 13 rows at the full width L, in one batch.
      const targets: number[][] = [];
      const clicks: number[][] = [];
      for (let u = 1; u <= split.numUsers; u++) {
        const seq = sequence(split, u);
        const history = seq.slice(0, seq.length - (part === 'test' ? 1 : 2));
        const click = [...history.slice(-L), ...Array(L).fill(0)].slice(0, L); // oldest first, right-padded
        for (const t of [seq[history.length], ...Array.from(c.negatives.subarray((u - 1) * 12, u * 12))]) {
          targets.push([t]);
          clicks.push(click);
        }
      }
      const scores = tf.tidy(() => Array.from((model.predict([tf.tensor2d(targets), tf.tensor2d(clicks)]) as tf.Tensor).dataSync()));
      const ranks = Array.from({ length: split.numUsers }, (__, i) => bruteRank(scores[i * 13], scores.slice(i * 13 + 1, i * 13 + 13)));
      const report = await evaluateSampledRanking(model, split, c, { batchSize: 4 });
      for (const [key, value] of Object.entries(bruteMetrics(ranks))) expect(report[key as 'hr@5'], key).toBeCloseTo(value, 6);
      expect(report.users).toBe(split.numUsers);
      if ('variant' in extra) continue;
      // A subset of users: the same ranks for those users.
      const some = [3, 1, 12];
      const subset = await evaluateSampledRanking(model, split, c, { users: some });
      const expected = bruteMetrics(some.map((u) => ranks[u - 1]));
      expect(subset['ndcg@10']).toBeCloseTo(expected['ndcg@10'], 6);
      expect(subset.users).toBe(3);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses models and candidates that do not fit', async () => {
    const c = sampleLooNegatives(split, 'test', { count: 5 });
    const sasrec = createModel({ model: 'sasrec', numItems: split.numItems, clickLength: L, dim: 8 } as CreateModelOptions).model;
    await expect(evaluateSampledRanking(build({}), randomSplit(10, 70, 3), c)).rejects.toThrow(/drawn for 14 users, the split has 10/);
    await expect(evaluateSampledRanking(build({}), split, c, { users: [0] })).rejects.toThrow(/'users'.*1\.\.14, got 0/);
    await expect(evaluateSampledRanking(build({}), split, c, { batchSize: 0 })).rejects.toThrow(/'batchSize'/);
    // A model reading more than target and click is refused, naming its inputs.
    const tfl = await import('@tensorflow/tfjs-layers');
    const a = tfl.input({ shape: [1], name: 'target' });
    const b = tfl.input({ shape: [L], name: 'click' });
    const d = tfl.input({ shape: [1], name: 'user' });
    const out = tfl.layers.dense({ units: 1 }).apply(tfl.layers.concatenate().apply([a, b, d])) as never;
    await expect(evaluateSampledRanking(tfl.model({ inputs: [a, b, d], outputs: out }), split, c))
      .rejects.toThrow(/exactly the inputs 'target' and 'click'.*'user'/);
    expect(sasrec.inputs.length).toBe(2); // SASRec reads the same two inputs, so it can be ranked too
    await expect(evaluateSampledRanking(sasrec, split, c)).resolves.toMatchObject({ users: 14 });
  });
});

describe('popularitySampled', () => {
  it('ranks the target among its negatives by training counts, ties against it', () => {
    const split = randomSplit(80, 40, 4);
    const counts = Array.from(trainingCounts(split));
    for (const part of ['validation', 'test'] as const) {
      const c = sampleLooNegatives(split, part, { count: 15, seed: 2 });
      const ranks = Array.from({ length: split.numUsers }, (_, i) => bruteRank(counts[seqLooTarget(split, i + 1, part) - 1],
        Array.from(c.negatives.subarray(i * 15, i * 15 + 15), (it) => counts[it - 1])));
      const report = popularitySampled(split, c);
      for (const [key, value] of Object.entries(bruteMetrics(ranks))) expect(report[key as 'hr@5']).toBeCloseTo(value, 12);
      expect(report.users).toBe(80);
    }
  });
});
