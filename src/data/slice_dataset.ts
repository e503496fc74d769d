/**
 * Picking rows out of a dataset (batches, validation subsets, shuffles). Browser-safe.
 */
import { checkDataset } from './check_dataset.js';
import { isTestSet, markTestSet } from './test_marks.js';
import type { DuetDataset } from './types.js';

/**
 * A new dataset with the rows at `indices`, in that order (repeats allowed). The id vocabulary
 * (`numItems`, `numUsers`) is kept, so embeddings sized from the source still fit. A slice of a
 * test set is a test set.
 *
 * @example
 * ```ts
 * const { train } = synthetic({ users: 20, items: 100 });
 * const firstTen = sliceDataset(train, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * firstTen.size; // 10
 * ```
 */
export function sliceDataset(ds: DuetDataset, indices: ArrayLike<number>): DuetDataset {
  checkDataset(ds, 'sliceDataset');
  const n = indices.length;
  const { clickLength: L, triggerLength: T } = ds;
  const out: DuetDataset = {
    size: n, clickLength: L, triggerLength: T,
    user: new Int32Array(n), target: new Int32Array(n),
    trigger: new Int32Array(n * T), click: new Int32Array(n * L),
    label: new Float32Array(n),
    numItems: ds.numItems, numUsers: ds.numUsers,
  };
  for (let r = 0; r < n; r++) {
    const i = indices[r];
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
      throw new Error(`'indices' passed to 'sliceDataset' must hold row numbers in [0, ${ds.size}), ` +
        `got ${String(i)} at position ${r}`);
    }
    out.user[r] = ds.user[i];
    out.target[r] = ds.target[i];
    out.label[r] = ds.label[i];
    out.trigger.set(ds.trigger.subarray(i * T, i * T + T), r * T);
    out.click.set(ds.click.subarray(i * L, i * L + L), r * L);
  }
  return isTestSet(ds) ? markTestSet(out) : out;
}
