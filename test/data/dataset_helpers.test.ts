import { describe, expect, it } from 'vitest';
import { checkDataset } from '../../src/data/check_dataset.js';
import { concatDatasets } from '../../src/data/concat_datasets.js';
import { sliceDataset } from '../../src/data/slice_dataset.js';
import type { DuetDataset } from '../../src/data/types.js';
import { rowText } from './fixtures.js';

function tiny(offset = 0): DuetDataset {
  return {
    size: 3, clickLength: 3, triggerLength: 2,
    user: Int32Array.of(1, 2, 3).map((v) => v + offset),
    target: Int32Array.of(10, 20, 30),
    trigger: Int32Array.of(1, 2, 3, 0, 4, 5),
    click: Int32Array.of(1, 2, 0, 3, 0, 0, 4, 5, 6),
    label: Float32Array.of(1, 0, 1),
    numItems: 30, numUsers: 3 + offset,
  };
}

describe('sliceDataset', () => {
  it('picks rows in the given order and keeps the vocabulary', () => {
    const ds = tiny();
    const s = sliceDataset(ds, [2, 0, 2]);
    expect(s.size).toBe(3);
    expect([0, 1, 2].map((r) => rowText(s, r))).toEqual(
      [2, 0, 2].map((r) => rowText(ds, r)));
    expect(rowText(s, 0)).toBe('3;30;4,5;4,5,6;1');
    expect(s.numItems).toBe(30);
    expect(s.numUsers).toBe(3);
  });

  it('rejects out-of-range indices', () => {
    expect(() => sliceDataset(tiny(), [0, 3])).toThrow(
      /'indices' passed to 'sliceDataset' must hold row numbers in \[0, 3\), got 3 at position 1/);
  });
});

describe('concatDatasets', () => {
  it('joins rows and takes the largest vocabulary', () => {
    const a = tiny();
    const b = tiny(5);
    const c = concatDatasets([a, b]);
    expect(c.size).toBe(6);
    expect(rowText(c, 4)).toBe(rowText(b, 1));
    expect(rowText(c, 0)).toBe(rowText(a, 0));
    expect(c.numUsers).toBe(8);
  });

  it('rejects different widths', () => {
    const b = { ...tiny(), clickLength: 1, click: new Int32Array(3) };
    expect(() => concatDatasets([tiny(), b])).toThrow(/'datasets\[1\]' passed to 'concatDatasets' has clickLength 1/);
  });
});

describe('checkDataset', () => {
  it('names the bad column', () => {
    expect(() => checkDataset({ ...tiny(), click: new Int32Array(8) }, 'fit', 'data'))
      .toThrow(/'data' passed to 'fit' must have 'click' of length 9, got 8/);
    expect(() => checkDataset({ ...tiny(), label: new Int32Array(3) as unknown as Float32Array }))
      .toThrow(/must have 'label' as a Float32Array, got Int32Array/);
  });
});
