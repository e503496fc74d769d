/**
 * Protocol seq-loo-v1 (see PROTOCOL.md, second part): leave-one-out with full ranking, the
 * protocol of the sequential-recommendation literature. Users' sequences → one table of
 * re-indexed sequences; the validation and test targets are each user's last two items.
 * Browser-safe.
 */
import { IdMap } from '../id_map.js';
import type { UserSequence } from '../types.js';

/**
 * Name of the protocol, as `protocol.json` records it.
 *
 * @example
 * ```ts
 * buildSeqLooSplit(users).protocol.protocol === SEQ_LOO_PROTOCOL; // true
 * ```
 */
export const SEQ_LOO_PROTOCOL = 'seq-loo-v1';

/**
 * Users with fewer interactions are dropped (rule 1).
 *
 * @example
 * ```ts
 * const kept = users.filter((u) => u.items.length >= SEQ_LOO_MIN_INTERACTIONS);
 * ```
 */
export const SEQ_LOO_MIN_INTERACTIONS = 3;

/**
 * How ids were mapped to the internal 1..N (1..U): `'kept'` when the source's ids already were
 * exactly the integers 1..N, else `'first-appearance'` (rule 1 of duet-seq-v1).
 *
 * @example
 * ```ts
 * const mapping: SeqLooIdMapping = split.protocol.item_ids; // 'kept' for amazon-beauty.txt
 * ```
 */
export type SeqLooIdMapping = 'kept' | 'first-appearance';

/**
 * The settings and counts of a seq-loo-v1 split, as `protocol.json` records them.
 *
 * @example
 * ```ts
 * const { protocol } = buildSeqLooSplit(users);
 * protocol.protocol; // 'seq-loo-v1'
 * ```
 */
export interface SeqLooProtocol {
  /** `'seq-loo-v1'`. */
  protocol: typeof SEQ_LOO_PROTOCOL;
  /** Where the interactions came from (an input file's base name, or a description). */
  source: string;
  /** Users kept (those with at least 3 interactions). */
  users: number;
  /** Distinct items among the kept users (the catalogue 1..items). */
  items: number;
  /** `items + 1` (0 is padding). */
  id_vocab: number;
  /** Interactions of the kept users. */
  interactions: number;
  /** Users dropped for having fewer than 3 interactions. */
  dropped_users: number;
  /** Training targets: positions t ≥ 2 of each user's s_1..s_{n-2}. */
  train_targets: number;
  /** Users with a validation target (every kept user). */
  validation_users: number;
  /** Users with a test target (every kept user). */
  test_users: number;
  /** History length L: histories are the last L items (rule 3). */
  max_len: number;
  /** Users with fewer interactions were dropped. */
  min_interactions: number;
  /** How item ids were mapped (see {@link SeqLooIdMapping}). */
  item_ids: SeqLooIdMapping;
  /** How user ids were mapped. */
  user_ids: SeqLooIdMapping;
}

/**
 * A seq-loo-v1 split: every kept user's whole sequence in internal ids (items 1..numItems, users
 * 1..numUsers), concatenated. User `u`'s items are `items[offsets[u - 1] .. offsets[u])`, oldest
 * first; its last item is the test target, the one before it the validation target, and the rest
 * its training sequence.
 *
 * @example
 * ```ts
 * const split = buildSeqLooSplit([{ user: 'a', items: ['x', 'y', 'z', 'w'] }]);
 * seqLooTarget(split, 1, 'test');       // 4 (item 'w')
 * seqLooHistory(split, 1, 'validation'); // Int32Array [1, 2]
 * ```
 */
export interface SeqLooSplit {
  /** Every user's items, oldest first, user after user. */
  items: Int32Array;
  /** `[numUsers + 1]` boundaries into `items`: user u spans `offsets[u - 1] .. offsets[u]`. */
  offsets: Int32Array;
  /** Number of users (internal ids 1..numUsers). */
  numUsers: number;
  /** Catalogue size (internal item ids 1..numItems; 0 is padding). */
  numItems: number;
  /** The source's item ids ↔ the internal item ids 1..numItems (`items.tsv`). */
  itemMap: IdMap;
  /** The source's user ids ↔ the internal user ids 1..numUsers (`users.tsv`). */
  userMap: IdMap;
  /** Settings and counts. */
  protocol: SeqLooProtocol;
}

/**
 * Which held-out target: `'validation'` (s_{n-1}, for model selection) or `'test'` (s_n, read
 * once for the final report).
 *
 * @example
 * ```ts
 * const part: SeqLooPart = 'validation';
 * ```
 */
export type SeqLooPart = 'validation' | 'test';

/**
 * Options of {@link buildSeqLooSplit}.
 *
 * @example
 * ```ts
 * const options: SeqLooOptions = { maxLen: 50, source: 'amazon-beauty.txt' };
 * ```
 */
export interface SeqLooOptions {
  /** History length L (the literature's `max_seq_length`). Default 50. */
  maxLen?: number;
  /** Recorded as `protocol.source`, e.g. the input file's base name. Default `'memory'`. */
  source?: string;
}

const KNOWN_OPTIONS = new Set(['maxLen', 'source']);

/** `'kept'` when `ids` (index i = internal id i + 1) are exactly the integers 1..n in some order. */
function keptMapping(ids: readonly string[]): Int32Array | null {
  const n = ids.length;
  const order = new Int32Array(n);
  const seen = new Uint8Array(n + 1);
  for (let i = 0; i < n; i++) {
    const text = ids[i];
    if (!/^[1-9]\d*$/.test(text)) return null;
    const v = Number(text);
    if (v > n || seen[v] === 1) return null;
    seen[v] = 1;
    order[i] = v;
  }
  return order;
}

/**
 * Builds a seq-loo-v1 split from users' sequences (as `readSequenceFile` or `readRatings` return
 * them), following PROTOCOL.md:
 *
 * - users with fewer than 3 interactions are dropped; the rest are re-indexed 1..U in input order
 *   and items 1..N in order of first appearance in that walk — unless the source's ids already
 *   are exactly 1..N (1..U), which are then kept (`protocol.item_ids` / `user_ids` say which);
 * - for items s_1..s_n: the test target is s_n, the validation target s_{n-1}, and s_1..s_{n-2}
 *   is the training sequence (see {@link seqLooTarget}, {@link seqLooHistory}).
 *
 * A user id given twice is an error (a one-user-a-line file lists each user once).
 *
 * @example
 * ```ts
 * const users = [
 *   { user: 'u1', items: ['a', 'b', 'c', 'd'] },
 *   { user: 'u2', items: ['b', 'e'] },           // dropped: 2 interactions
 *   { user: 'u3', items: ['e', 'b', 'f'] },
 * ];
 * const split = buildSeqLooSplit(users);
 * split.numUsers;               // 2
 * split.protocol.train_targets; // 1 (u1's 'b'; u3's training sequence is just 'e')
 * ```
 */
export function buildSeqLooSplit(users: Iterable<UserSequence>, options: SeqLooOptions = {}):
    SeqLooSplit {
  const fn = 'buildSeqLooSplit';
  if (users === null || typeof users !== 'object' ||
      typeof (users as Iterable<UserSequence>)[Symbol.iterator] !== 'function') {
    throw new Error(`'users' passed to '${fn}' must be an array of { user, items }`);
  }
  if (options === null || typeof options !== 'object') {
    throw new Error(`'options' passed to '${fn}' must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new Error(`unknown option '${key}' passed to '${fn}'; known: ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const maxLen = options.maxLen ?? 50;
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new Error(`'maxLen' passed to '${fn}' must be a positive integer, got ${String(maxLen)}`);
  }
  const source = options.source ?? 'memory';
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  const userIds: string[] = [];
  const userIndex = new Map<string, number>();
  const chunks: Int32Array[] = [];
  let interactions = 0;
  let dropped = 0;
  let position = 0;
  for (const u of users) {
    if (u === null || typeof u !== 'object' || !Array.isArray(u.items)) {
      throw new Error(`'users[${position}]' passed to '${fn}' must be { user, items: [...] }`);
    }
    const name = String(u.user);
    const earlier = userIndex.get(name);
    if (earlier !== undefined) {
      throw new Error(`'users' passed to '${fn}' list user '${name}' twice (entries ${earlier} ` +
        `and ${position}); give each user's items once, in time order`);
    }
    userIndex.set(name, position);
    position++;
    if (u.items.length < SEQ_LOO_MIN_INTERACTIONS) {
      dropped++;
      continue;
    }
    const seq = new Int32Array(u.items.length);
    for (let j = 0; j < u.items.length; j++) {
      const key = String(u.items[j]);
      let id = itemIndex.get(key);
      if (id === undefined) {
        itemIds.push(key);
        id = itemIds.length;
        itemIndex.set(key, id);
      }
      seq[j] = id;
    }
    userIds.push(name);
    chunks.push(seq);
    interactions += seq.length;
  }
  // Rule 1: a source whose ids already are 1..N keeps them.
  const itemOrder = keptMapping(itemIds);
  const userOrder = keptMapping(userIds);
  const numUsers = chunks.length;
  const numItems = itemIds.length;
  // Users keep their order; with kept user ids the table is laid out by those ids.
  const slot = new Int32Array(numUsers);
  for (let i = 0; i < numUsers; i++) slot[i] = userOrder === null ? i : userOrder[i] - 1;
  const lengths = new Int32Array(numUsers);
  for (let i = 0; i < numUsers; i++) lengths[slot[i]] = chunks[i].length;
  const offsets = new Int32Array(numUsers + 1);
  for (let u = 0; u < numUsers; u++) offsets[u + 1] = offsets[u] + lengths[u];
  const items = new Int32Array(interactions);
  let trainTargets = 0;
  for (let i = 0; i < numUsers; i++) {
    const seq = chunks[i];
    const start = offsets[slot[i]];
    for (let j = 0; j < seq.length; j++) {
      items[start + j] = itemOrder === null ? seq[j] : itemOrder[seq[j] - 1];
    }
    trainTargets += Math.max(0, seq.length - 3);
  }
  const orderedUserIds: string[] = new Array<string>(numUsers);
  for (let i = 0; i < numUsers; i++) orderedUserIds[slot[i]] = userIds[i];
  return {
    items,
    offsets,
    numUsers,
    numItems,
    itemMap: itemOrder === null ? new IdMap(itemIds) : IdMap.identity(numItems),
    userMap: new IdMap(orderedUserIds),
    protocol: {
      protocol: SEQ_LOO_PROTOCOL,
      source,
      users: numUsers,
      items: numItems,
      id_vocab: numItems + 1,
      interactions,
      dropped_users: dropped,
      train_targets: trainTargets,
      validation_users: numUsers,
      test_users: numUsers,
      max_len: maxLen,
      min_interactions: SEQ_LOO_MIN_INTERACTIONS,
      item_ids: itemOrder === null ? 'first-appearance' : 'kept',
      user_ids: userOrder === null ? 'first-appearance' : 'kept',
    },
  };
}

function checkUser(split: SeqLooSplit, user: number, fn: string): void {
  if (!Number.isInteger(user) || user < 1 || user > split.numUsers) {
    throw new Error(`'user' passed to '${fn}' must be an internal user id in 1..${split.numUsers}, ` +
      `got ${String(user)}`);
  }
}

function checkPart(part: unknown, fn: string): asserts part is SeqLooPart {
  if (part !== 'validation' && part !== 'test') {
    throw new Error(`'part' passed to '${fn}' must be 'validation' or 'test', got ${String(part)}`);
  }
}

/**
 * The held-out target of `user` for `part`: s_{n-1} (validation) or s_n (test).
 *
 * @example
 * ```ts
 * seqLooTarget(split, 1, 'validation'); // the user's second-to-last item
 * ```
 */
export function seqLooTarget(split: SeqLooSplit, user: number, part: SeqLooPart): number {
  const fn = 'seqLooTarget';
  checkUser(split, user, fn);
  checkPart(part, fn);
  return split.items[split.offsets[user] - (part === 'test' ? 1 : 2)];
}

/**
 * The whole history of `user` before the `part` target (s_1..s_{n-2} for validation, s_1..s_{n-1}
 * for test), oldest first: the items removed from that user's ranking (rule 4). A view into
 * `split.items`; the model reads its last `max_len` items.
 *
 * @example
 * ```ts
 * seqLooHistory(split, 1, 'test'); // every item but the last
 * ```
 */
export function seqLooHistory(split: SeqLooSplit, user: number, part: SeqLooPart): Int32Array {
  const fn = 'seqLooHistory';
  checkUser(split, user, fn);
  checkPart(part, fn);
  return split.items.subarray(split.offsets[user - 1], split.offsets[user] - (part === 'test' ? 1 : 2));
}

/**
 * The training sequence of `user`: s_1..s_{n-2} (every position t ≥ 2 is a training target with
 * history s_1..s_{t-1}). A view into `split.items`.
 *
 * @example
 * ```ts
 * seqLooTrainSequence(split, 1); // the user's items without the last two
 * ```
 */
export function seqLooTrainSequence(split: SeqLooSplit, user: number): Int32Array {
  checkUser(split, user, 'seqLooTrainSequence');
  return split.items.subarray(split.offsets[user - 1], split.offsets[user] - 2);
}
