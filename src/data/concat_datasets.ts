/**
 * Joining datasets row-wise. Browser-safe.
 */
import { checkDataset } from './check_dataset.js';
import { isTestSet, markTestSet } from './test_marks.js';
import type { DuetDataset } from './types.js';

/**
 * One dataset with the rows of `datasets` in order. All must share `clickLength` and
 * `triggerLength`; `numItems`/`numUsers` become the largest of the inputs. If any input is a test
 * set, so is the result.
 *
 * @example
 * ```ts
 * const { train } = synthetic({ users: 20, items: 100 });
 * const twice = concatDatasets([train, train]);
 * twice.size === 2 * train.size; // true
 * ```
 */
export function concatDatasets(datasets: readonly DuetDataset[]): DuetDataset {
  if (!Array.isArray(datasets) || datasets.length === 0) {
    throw new Error(`'datasets' passed to 'concatDatasets' must be a non-empty array`);
  }
  datasets.forEach((ds, i) => checkDataset(ds, 'concatDatasets', `datasets[${i}]`));
  const { clickLength: L, triggerLength: T } = datasets[0];
  datasets.forEach((ds, i) => {
    if (ds.clickLength !== L || ds.triggerLength !== T) {
      throw new Error(`'datasets[${i}]' passed to 'concatDatasets' has clickLength ` +
        `${ds.clickLength} and triggerLength ${ds.triggerLength}, but datasets[0] has ${L} and ${T}`);
    }
  });
  const n = datasets.reduce((s, ds) => s + ds.size, 0);
  const out: DuetDataset = {
    size: n, clickLength: L, triggerLength: T,
    user: new Int32Array(n), target: new Int32Array(n),
    trigger: new Int32Array(n * T), click: new Int32Array(n * L),
    label: new Float32Array(n),
    numItems: Math.max(...datasets.map((d) => d.numItems)),
    numUsers: Math.max(...datasets.map((d) => d.numUsers)),
  };
  let r = 0;
  for (const ds of datasets) {
    out.user.set(ds.user, r);
    out.target.set(ds.target, r);
    out.label.set(ds.label, r);
    out.trigger.set(ds.trigger, r * T);
    out.click.set(ds.click, r * L);
    r += ds.size;
  }
  return datasets.some(isTestSet) ? markTestSet(out) : out;
}
