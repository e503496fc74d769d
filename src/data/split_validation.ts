/**
 * Holding validation data out of the training data, for model selection that never looks at the
 * test set. Browser-safe.
 */
import { checkDataset } from './check_dataset.js';
import { createRng } from './rng.js';
import { sliceDataset } from './slice_dataset.js';
import { isTestSet } from './test_marks.js';
import type { DuetDataset } from './types.js';

/**
 * Splits a *training* set by user: a seeded random `fraction` of its users goes, with all their
 * rows, to `validation`; everyone else stays in `train`. Whole users move because one user's
 * train rows share history (a held-out target of one row sits in the click sequence of the
 * user's later rows), so a row-level split would leak. Row order is kept in both parts; the id
 * vocabulary is kept too.
 *
 * The chosen users depend only on the set of user ids and the seed, not on the row order. At
 * least one user is held out when `fraction > 0` and there are two or more users, and at least
 * one stays. Throws when given a test set (one built or read by this library).
 *
 * @example
 * ```ts
 * const { train, test } = synthetic({ users: 100, items: 300 });
 * const { train: fit, validation } = splitValidation(train, 0.1, 0);
 * // select epochs / hyper-parameters on `validation`; report on `test` once.
 * ```
 */
export function splitValidation(ds: DuetDataset, fraction: number, seed = 0):
    { train: DuetDataset; validation: DuetDataset } {
  checkDataset(ds, 'splitValidation');
  if (isTestSet(ds)) {
    throw new Error(`'dataset' passed to 'splitValidation' is a test set; validation data must ` +
      `be held out of the training data`);
  }
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction < 1)) {
    throw new Error(`'fraction' passed to 'splitValidation' must be in [0, 1), got ${String(fraction)}`);
  }
  if (!Number.isInteger(seed)) {
    throw new Error(`'seed' passed to 'splitValidation' must be an integer, got ${String(seed)}`);
  }
  const users = Int32Array.from(new Set(ds.user)).sort();
  let k = Math.round(fraction * users.length);
  if (fraction > 0 && users.length >= 2) k = Math.min(Math.max(k, 1), users.length - 1);
  createRng(seed).shuffle(users);
  const held = new Set(users.subarray(0, k));
  const keep: number[] = [];
  const out: number[] = [];
  for (let r = 0; r < ds.size; r++) (held.has(ds.user[r]) ? out : keep).push(r);
  return { train: sliceDataset(ds, keep), validation: sliceDataset(ds, out) };
}
