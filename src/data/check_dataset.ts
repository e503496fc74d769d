/**
 * Structural checks shared by the dataset helpers, so a hand-built dataset with a wrong column
 * length fails where it is passed in rather than deep inside training. Browser-safe.
 */
import type { DuetDataset } from './types.js';

/**
 * Throws unless `ds` is a consistent {@link DuetDataset} (column types and lengths match `size`
 * and the sequence widths).
 *
 * @example
 * ```ts
 * checkDataset(synthetic({ users: 20, items: 100 }).train); // passes
 * checkDataset({ ...ds, size: ds.size + 1 }, 'fit', 'data'); // throws, naming 'fit' and 'data'
 * ```
 */
export function checkDataset(ds: DuetDataset, caller = 'checkDataset', arg = 'dataset'): void {
  const where = `'${arg}' passed to '${caller}'`;
  if (ds === null || typeof ds !== 'object') {
    throw new Error(`${where} must be a DuetDataset, got ${String(ds)}`);
  }
  for (const key of ['size', 'clickLength', 'triggerLength', 'numItems', 'numUsers'] as const) {
    const v = ds[key];
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${where} must have a non-negative integer '${key}', got ${String(v)}`);
    }
  }
  const columns: Array<[keyof DuetDataset, Function, number]> = [
    ['user', Int32Array, ds.size],
    ['target', Int32Array, ds.size],
    ['label', Float32Array, ds.size],
    ['trigger', Int32Array, ds.size * ds.triggerLength],
    ['click', Int32Array, ds.size * ds.clickLength],
  ];
  for (const [key, ctor, length] of columns) {
    const col = ds[key] as { length?: number } | undefined;
    if (!(col instanceof ctor)) {
      throw new Error(`${where} must have '${key}' as a ${ctor.name}, got ` +
        `${col === undefined ? 'undefined' : (col as object).constructor?.name}`);
    }
    if (col.length !== length) {
      throw new Error(`${where} must have '${key}' of length ${length}, got ${col.length}`);
    }
  }
}
