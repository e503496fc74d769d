/**
 * Remembers which datasets are test sets, so validation data can never be cut from them (model
 * selection on the test set is a bug class this library guards against). Browser-safe; internal.
 */
import type { DuetDataset } from './types.js';

const testSets = new WeakSet<DuetDataset>();

/**
 * Marks `ds` as test data and returns it.
 *
 * @example
 * ```ts
 * const test = markTestSet(await readDuetFile('test.txt'));
 * ```
 */
export function markTestSet<T extends DuetDataset>(ds: T): T {
  testSets.add(ds);
  return ds;
}

/**
 * Whether `ds` was marked as test data (by a split builder, a split reader, or a slice of one).
 * Training code can use it to refuse test data.
 *
 * @example
 * ```ts
 * const { train, test } = synthetic({ users: 20, items: 100 });
 * isTestSet(test);  // true
 * isTestSet(train); // false
 * ```
 */
export function isTestSet(ds: DuetDataset): boolean {
  return testSets.has(ds);
}
