/**
 * Protocol duet-seq-v1 (see PROTOCOL.md): users' interaction sequences → DUET train and test
 * sets, the same rows `make_duet_data.py` writes. Browser-safe.
 */
import { buildSplitFromIndexed, resolveSplitOptions } from './duet_rows.js';
import { IdMap } from './id_map.js';
import type { DuetSplit, DuetSplitOptions, UserSequence } from './types.js';

/**
 * Builds a DUET split from users' sequences (as `readSequenceFile` or `readRatings` return them),
 * following protocol duet-seq-v1 exactly as `make_duet_data.py` does:
 *
 * - users with fewer than 3 interactions are dropped; the rest are re-indexed 1..U in input
 *   order, and items 1..N in order of first appearance in that walk (0 is padding);
 * - for items s_1..s_n, the train targets are s_2..s_{n-1} and the test target is s_n;
 * - `click` / `trigger` hold the last `maxLen` / `triggerLen` items before the target,
 *   right-padded with 0;
 * - every positive is followed by `trainNeg` (train) or `testNeg` (test) negatives with the same
 *   history, drawn uniformly from the items the user never interacted with;
 * - at most `maxTestUsers` test users (a seeded subset, in user order); train rows are shuffled
 *   with the seed, then cut to `maxTrainRows` if set.
 *
 * Ids, counts and positive rows match the Python tool; the negatives and the shuffle come from
 * this library's own seeded generator, so they differ from Python's but are reproducible here.
 * The split carries the id maps (`items`, `users`: original id ↔ index), which `writeDuetSplit`
 * saves as `items.tsv` and `users.tsv`.
 *
 * @example
 * ```ts
 * const users = [
 *   { user: 'u1', items: ['a', 'b', 'c', 'd'] },
 *   { user: 'u2', items: ['b', 'e', 'f'] },
 * ];
 * const { train, test, protocol, items } = buildDuetSplit(users, { testNeg: 1 });
 * protocol.id_vocab; // 7 (items a..f are 1..6)
 * items.indexOf('c');  // 3
 * train.size;        // (2 + 1) positives × 2 = 6
 * test.size;         // 2 users × 2 = 4
 * ```
 */
export function buildDuetSplit(users: readonly UserSequence[], options: DuetSplitOptions = {}):
    Required<DuetSplit> {
  if (!Array.isArray(users)) {
    throw new Error(`'users' passed to 'buildDuetSplit' must be an array of { user, items }`);
  }
  const o = resolveSplitOptions(options, 'buildDuetSplit');
  const itemIndex = new Map<string, number>();
  const seqs: Int32Array[] = [];
  const userIds: string[] = [];
  users.forEach((u, i) => {
    if (!u || !Array.isArray(u.items)) {
      throw new Error(`'users[${i}]' passed to 'buildDuetSplit' must have an 'items' array`);
    }
    if (u.items.length < 3) return;
    const items: readonly unknown[] = u.items;
    const seq = new Int32Array(items.length);
    for (let j = 0; j < items.length; j++) {
      const key = String(items[j]);
      let id = itemIndex.get(key);
      if (id === undefined) {
        id = itemIndex.size + 1;
        itemIndex.set(key, id);
      }
      seq[j] = id;
    }
    seqs.push(seq);
    userIds.push(String(u.user));
  });
  const split = buildSplitFromIndexed(seqs, itemIndex.size, o, 'buildDuetSplit');
  return { ...split, items: new IdMap([...itemIndex.keys()]), users: new IdMap(userIds) };
}
