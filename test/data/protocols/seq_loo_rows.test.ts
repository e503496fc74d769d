import { describe, expect, it } from 'vitest';

import { checkDataset } from '../../../src/data/check_dataset';
import { buildSeqLooSplit } from '../../../src/data/protocols/seq_loo';
import { seqLooTrainingRows } from '../../../src/data/protocols/seq_loo_rows';
import { createRng } from '../../../src/data/rng';

describe('seqLooTrainingRows', () => {
  // Items 1..30 kept as ids; user a: 7 items, b: 3 (no training target), c: 4.
  const split = buildSeqLooSplit([
    { user: 'a', items: ['1', '2', '3', '4', '5', '6', '7'] },
    { user: 'b', items: ['8', '9', '10'] },
    { user: 'c', items: ['11', '12', '13', '14'] },
    ...Array.from({ length: 4 }, (_, i) => ({ user: `f${i}`, items: Array.from({ length: 4 }, (__, j) => String(15 + ((i * 4 + j) % 16))) })),
  ]);

  it('yields every training position t >= 2 of s_1..s_{n-2} as a positive and its negatives', () => {
    const rows = seqLooTrainingRows(split, { clickLength: 3, negatives: 2, seed: 1 });
    checkDataset(rows, 'test', 'rows');
    expect(rows.size).toBe(3 * split.protocol.train_targets);
    expect(rows).toMatchObject({ clickLength: 3, triggerLength: 0, numItems: split.numItems, numUsers: split.numUsers });
    // User a (id 1): training sequence 1..5, targets 2, 3, 4, 5; histories cut to the last 3, right-padded.
    const a = Array.from({ length: rows.size }, (_, r) => r).filter((r) => rows.user[r] === 1);
    expect(a.length).toBe(4 * 3);
    const positives = a.filter((r) => rows.label[r] === 1);
    expect(positives.map((r) => rows.target[r])).toEqual([2, 3, 4, 5]);
    expect(positives.map((r) => Array.from(rows.click.subarray(r * 3, r * 3 + 3)))).toEqual([
      [1, 0, 0], [1, 2, 0], [1, 2, 3], [2, 3, 4],
    ]);
    for (const r of a.filter((i) => rows.label[i] === 0)) {
      // Negatives: outside the training sequence 1..5 (the held-out 6 and 7 may be drawn), same history as their positive.
      expect([1, 2, 3, 4, 5]).not.toContain(rows.target[r]);
      expect(rows.target[r]).toBeGreaterThanOrEqual(1);
      expect(rows.target[r]).toBeLessThanOrEqual(split.numItems);
      const positive = positives.filter((p) => p < r).pop() as number;
      expect(Array.from(rows.click.subarray(r * 3, r * 3 + 3))).toEqual(Array.from(rows.click.subarray(positive * 3, positive * 3 + 3)));
    }
    // User b has no training target; user c one (s_2 = 12 after s_1 = 11).
    expect(Array.from(rows.user).filter((u) => u === 2)).toEqual([]);
    const c = Array.from({ length: rows.size }, (_, r) => r).filter((r) => rows.user[r] === 3 && rows.label[r] === 1);
    expect(c.map((r) => rows.target[r])).toEqual([12]);
  });

  it('defaults to the split\'s max_len and one negative, and is seeded', () => {
    const rng = createRng(3);
    const big = buildSeqLooSplit(Array.from({ length: 20 }, (_, u) => ({
      user: String(u), items: Array.from({ length: 4 + rng.int(20) }, () => String(1 + rng.int(60))),
    })), { maxLen: 8 });
    const rows = seqLooTrainingRows(big);
    expect(rows.clickLength).toBe(8);
    expect(rows.size).toBe(2 * big.protocol.train_targets);
    expect(seqLooTrainingRows(big).target).toEqual(rows.target);
    expect(seqLooTrainingRows(big, { seed: 1 }).target).not.toEqual(rows.target);
  });

  it('refuses bad options', () => {
    expect(() => seqLooTrainingRows(split, { clickLength: 0 })).toThrow(/'clickLength'.*positive integer/);
    expect(() => seqLooTrainingRows(split, { negatives: -1 })).toThrow(/'negatives'/);
    expect(() => seqLooTrainingRows(split, { seed: 1.5 })).toThrow(/'seed'/);
  });
});
