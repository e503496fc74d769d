/**
 * The shapes data takes on its way from files to training and evaluation.
 *
 * Browser-safe: types only.
 */
import type { IdMap } from './id_map.js';

/**
 * An in-memory columnar set of DUET samples, one row per `user;target;trigger_seq;click_seq;label`
 * line of the authors' format. Sequence columns are flat and row-major so they can be handed to
 * `tf.tensor2d(ds.click, [ds.size, ds.clickLength], 'int32')` without copying row by row.
 *
 * @example
 * ```ts
 * const ds: DuetDataset = {
 *   size: 1, clickLength: 3, triggerLength: 2,
 *   user: Int32Array.of(1), target: Int32Array.of(4),
 *   trigger: Int32Array.of(2, 3), click: Int32Array.of(2, 3, 0),
 *   label: Float32Array.of(1), numItems: 4, numUsers: 1,
 * };
 * ```
 */
export interface DuetDataset {
  /** Number of rows. */
  size: number;
  /** Width L of each `click` row (the behaviour sequence the hypernetwork reads). */
  clickLength: number;
  /** Width T of each `trigger` row. */
  triggerLength: number;
  /** User id of each row, `[size]`. */
  user: Int32Array;
  /** Candidate item id of each row, `[size]`. */
  target: Int32Array;
  /** The last T items before the target, `[size * triggerLength]`, right-padded with 0. */
  trigger: Int32Array;
  /** The last L items before the target, `[size * clickLength]`, right-padded with 0. */
  click: Int32Array;
  /** 1 for a positive, 0 for a negative, `[size]`. */
  label: Float32Array;
  /**
   * Largest item id (id vocabulary = `numItems + 1`, 0 is padding). At least the largest id
   * present; datasets built together (train and test of one split) share the same value.
   */
  numItems: number;
  /** Largest user id (at least the largest present; shared by the datasets of one split). */
  numUsers: number;
}

/**
 * The settings and counts of a split, with the same keys as the `protocol.json` that
 * `make_duet_data.py` writes.
 *
 * @example
 * ```ts
 * const split = buildDuetSplit([{ user: 'a', items: ['x', 'y', 'z', 'w'] }]);
 * split.protocol.id_vocab; // 5
 * ```
 */
export interface DuetProtocol {
  /** Protocol name: `'duet-seq-v1'`. */
  protocol: string;
  /** Where the interactions came from (an input file's base name, or a description). */
  source: string;
  /** Users kept (those with at least 3 interactions). */
  users: number;
  /** Distinct items among the kept users. */
  items: number;
  /** `items + 1` (0 is padding). */
  id_vocab: number;
  /** Rows in the train set. */
  train_rows: number;
  /** Users in the test set. */
  test_users: number;
  /** Rows in the test set. */
  test_rows: number;
  /** Width L of `click_seq`. */
  max_len: number;
  /** Width T of `trigger_seq`. */
  trigger_len: number;
  /** Negatives per train positive. */
  train_neg: number;
  /** Negatives per test positive. */
  test_neg: number;
  /** Largest number of test users. */
  max_test_users: number;
  /** Cap on train rows (0 = all). */
  max_train_rows: number;
  /** Seed of the negatives, the shuffle and the test-user subset. */
  seed: number;
  /**
   * Ratings tables only: positives were the rows rated at least this (the rest were dropped
   * before the split); null when every row was kept. Absent in splits from other tools.
   */
  min_rating?: number | null;
}

/**
 * A train set, a test set (rows grouped by user) and the protocol that built them.
 *
 * @example
 * ```ts
 * const { train, test, protocol } = synthetic({ users: 50, items: 200 });
 * ```
 */
export interface DuetSplit {
  train: DuetDataset;
  test: DuetDataset;
  protocol: DuetProtocol;
  /** The items' original ids (index i + 1 ↔ `items.originals[i]`), when the split knows them. */
  items?: IdMap;
  /** The users' original ids, likewise. */
  users?: IdMap;
}

/**
 * One user's interactions in time order, with the ids as they appear in the source file (they
 * are re-indexed when a split is built).
 *
 * @example
 * ```ts
 * const u: UserSequence = { user: 'A39HTATAQ9V7YF', items: ['0205616461', '0558925278'] };
 * ```
 */
export interface UserSequence {
  /** The user's id in the source. */
  user: string;
  /** The user's items, oldest first. */
  items: string[];
}

/**
 * Settings of protocol duet-seq-v1 (the flags of `make_duet_data.py`).
 *
 * @example
 * ```ts
 * const opts: DuetSplitOptions = { maxLen: 50, testNeg: 99, seed: 1 };
 * ```
 */
export interface DuetSplitOptions {
  /** Width L of `click_seq` (`--max-len`). Default 30. */
  maxLen?: number;
  /** Width T of `trigger_seq` (`--trigger-len`). Default 10. */
  triggerLen?: number;
  /** Negatives after each train positive (`--train-neg`). Default 1. */
  trainNeg?: number;
  /** Negatives after each test positive (`--test-neg`). Default 49. */
  testNeg?: number;
  /** Largest number of test users, a seeded random subset (`--max-test-users`). Default 5000. */
  maxTestUsers?: number;
  /** Keep only the first this many shuffled train rows; 0 keeps all (`--max-train-rows`). Default 0. */
  maxTrainRows?: number;
  /** Seed of the negatives, the train shuffle and the test-user subset (`--seed`). Default 0. */
  seed?: number;
  /** Recorded as `protocol.source`, e.g. the input file's base name. Default `'memory'`. */
  source?: string;
}
