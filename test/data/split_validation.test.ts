import { describe, expect, it } from 'vitest';
import { sliceDataset } from '../../src/data/slice_dataset.js';
import { concatDatasets } from '../../src/data/concat_datasets.js';
import { splitValidation } from '../../src/data/split_validation.js';
import { synthetic } from '../../src/data/synthetic.js';
import { rowSet, sameDataset } from './fixtures.js';

const split = synthetic({ users: 60, items: 200, testNeg: 4, seed: 2 });

describe('splitValidation', () => {
  it('moves a fraction of users, with all their rows, out of the training data', () => {
    const { train, validation } = splitValidation(split.train, 0.25, 1);
    const trainUsers = new Set(train.user);
    const validUsers = new Set(validation.user);
    expect(validUsers.size).toBe(15);
    expect(trainUsers.size).toBe(45);
    for (const u of validUsers) expect(trainUsers.has(u)).toBe(false);
    // Together they are exactly the training rows: nothing lost, nothing added.
    expect(train.size + validation.size).toBe(split.train.size);
    expect([...rowSet(train), ...rowSet(validation)].sort()).toEqual(rowSet(split.train));
    expect(validation.numItems).toBe(split.train.numItems);
  });

  it('never includes test rows', () => {
    const { validation } = splitValidation(split.train, 0.5, 3);
    const testRows = new Set(rowSet(split.test));
    expect(rowSet(validation).filter((r) => testRows.has(r))).toEqual([]);
    expect(() => splitValidation(split.test, 0.1)).toThrow(
      `'dataset' passed to 'splitValidation' is a test set; validation data must be held out of the training data`);
    expect(() => splitValidation(sliceDataset(split.test, [0, 1, 2]), 0.1)).toThrow(/is a test set/);
    expect(() => splitValidation(concatDatasets([split.train, split.test]), 0.1)).toThrow(/is a test set/);
  });

  it('is deterministic per seed and independent of row order', () => {
    const a = splitValidation(split.train, 0.2, 7);
    const b = splitValidation(split.train, 0.2, 7);
    const c = splitValidation(split.train, 0.2, 8);
    expect(sameDataset(a.validation, b.validation)).toBe(true);
    expect(new Set(c.validation.user)).not.toEqual(new Set(a.validation.user));
    const reversed = sliceDataset(split.train, Array.from({ length: split.train.size }, (_, i) => split.train.size - 1 - i));
    expect(new Set(splitValidation(reversed, 0.2, 7).validation.user)).toEqual(new Set(a.validation.user));
  });

  it('holds out at least one user and keeps at least one; checks the fraction', () => {
    expect(new Set(splitValidation(split.train, 0.001).validation.user).size).toBe(1);
    expect(new Set(splitValidation(split.train, 0.999).train.user).size).toBe(1);
    expect(splitValidation(split.train, 0).validation.size).toBe(0);
    expect(() => splitValidation(split.train, 1)).toThrow(
      /'fraction' passed to 'splitValidation' must be in \[0, 1\), got 1/);
  });
});
