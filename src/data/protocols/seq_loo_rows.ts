/**
 * Pointwise training rows from a seq-loo-v1 split, for models that score one (history, item)
 * pair at a time (DIN): every training position of every user, as a positive row and sampled
 * negative rows, in the {@link DuetDataset} layout `train` reads. Browser-safe.
 */
import { createRng } from '../rng.js';
import type { DuetDataset } from '../types.js';
import type { SeqLooSplit } from './seq_loo.js';

/**
 * Options of {@link seqLooTrainingRows}.
 *
 * @example
 * ```ts
 * const options: SeqLooRowOptions = { clickLength: 50, negatives: 1, seed: 0 };
 * ```
 */
export interface SeqLooRowOptions {
  /** Width L of the `click` rows: the last L items before each target. Default: the split's `max_len`. */
  clickLength?: number;
  /** Negative rows per positive. Default 1 (the SASRec paper's one negative per position). */
  negatives?: number;
  /** Seed of the negatives. Default 0. */
  seed?: number;
}

/**
 * The training rows of a seq-loo-v1 split (rule 2: only each user's s_1..s_{n-2}): for every
 * position t ≥ 2 of that training sequence, a positive row (target s_t, history s_1..s_{t-1})
 * followed by `negatives` rows with the same history and a target drawn uniformly among the
 * items outside the user's training sequence (the held-out targets are never looked at). The
 * `click` rows hold the last `clickLength` items of the history, oldest first, then zeros, as
 * `evaluateSampledRanking` feeds them; `trigger` is empty (`triggerLength` 0). Rows are in user
 * order; `train` shuffles them every epoch.
 *
 * @param split The seq-loo-v1 split.
 * @param options See {@link SeqLooRowOptions}.
 * @returns `(1 + negatives) × train_targets` rows.
 * @throws On bad options, or a user whose training sequence covers the whole catalogue.
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * const rows = seqLooTrainingRows(split);        // 2 × 131,413 rows on amazon-beauty.txt
 * await train(model, { train: rows }, { epochs: 1 });
 * ```
 */
export function seqLooTrainingRows(split: SeqLooSplit, options: SeqLooRowOptions = {}): DuetDataset {
  const fn = 'seqLooTrainingRows';
  const L = options.clickLength ?? split.protocol.max_len;
  const negatives = options.negatives ?? 1;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(L) || L < 1) {
    throw new Error(`'clickLength' passed to '${fn}' must be a positive integer, got ${String(L)}`);
  }
  if (!Number.isInteger(negatives) || negatives < 0) {
    throw new Error(`'negatives' passed to '${fn}' must be a non-negative integer, got ${String(negatives)}`);
  }
  if (!Number.isInteger(seed)) {
    throw new Error(`'seed' passed to '${fn}' must be an integer, got ${String(seed)}`);
  }
  const { numUsers, numItems, items, offsets } = split;
  let positives = 0;
  for (let u = 1; u <= numUsers; u++) positives += Math.max(0, offsets[u] - offsets[u - 1] - 3);
  const size = positives * (1 + negatives);
  const ds: DuetDataset = {
    size, clickLength: L, triggerLength: 0,
    user: new Int32Array(size), target: new Int32Array(size), trigger: new Int32Array(0),
    click: new Int32Array(size * L), label: new Float32Array(size), numItems, numUsers,
  };
  const rng = createRng(seed);
  const seen = new Int32Array(numItems + 1);
  let r = 0;
  for (let u = 1; u <= numUsers; u++) {
    const begin = offsets[u - 1];
    const end = offsets[u] - 2; // s_1..s_{n-2}
    let distinct = 0;
    for (let i = begin; i < end; i++) {
      if (seen[items[i]] !== u) { seen[items[i]] = u; distinct++; }
    }
    if (end - begin >= 2 && negatives > 0 && distinct >= numItems) {
      throw new Error(`'${fn}' cannot draw negatives for user ${u}: their training sequence holds all ${numItems} items`);
    }
    for (let t = begin + 1; t < end; t++) {
      const window = items.subarray(Math.max(begin, t - L), t);
      for (let k = 0; k <= negatives; k++) {
        let target = items[t];
        if (k > 0) {
          do target = 1 + rng.int(numItems); while (seen[target] === u);
        }
        ds.user[r] = u;
        ds.target[r] = target;
        ds.label[r] = k === 0 ? 1 : 0;
        ds.click.set(window, r * L);
        r++;
      }
    }
  }
  return ds;
}
