/**
 * The row-building half of protocol duet-seq-v1, on users whose items are already re-indexed
 * 1..N. Shared by `buildDuetSplit` (real data) and `synthetic` (generated data) so both follow
 * the same layout rules. Browser-safe; internal.
 */
import { createRng, type Rng } from './rng.js';
import { markTestSet } from './test_marks.js';
import type { DuetDataset, DuetProtocol, DuetSplit, DuetSplitOptions } from './types.js';

/** {@link DuetSplitOptions} with every default filled in. */
export type ResolvedSplitOptions = Required<DuetSplitOptions>;

/** Fills in the protocol defaults and checks every value. */
export function resolveSplitOptions(options: DuetSplitOptions, caller: string): ResolvedSplitOptions {
  const o: ResolvedSplitOptions = {
    maxLen: 30, triggerLen: 10, trainNeg: 1, testNeg: 49, maxTestUsers: 5000,
    maxTrainRows: 0, seed: 0, source: 'memory',
  };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    if (!(key in o)) throw new Error(`unknown option '${key}' passed to '${caller}'`);
    (o as unknown as Record<string, unknown>)[key] = value;
  }
  const positive = ['maxLen', 'triggerLen'] as const;
  const nonNegative = ['trainNeg', 'testNeg', 'maxTestUsers', 'maxTrainRows'] as const;
  for (const key of [...positive, ...nonNegative]) {
    const v = o[key];
    const min = (positive as readonly string[]).includes(key) ? 1 : 0;
    if (!Number.isInteger(v) || v < min) {
      throw new Error(`'${key}' passed to '${caller}' must be an integer >= ${min}, got ${String(v)}`);
    }
  }
  if (!Number.isInteger(o.seed)) {
    throw new Error(`'seed' passed to '${caller}' must be an integer, got ${String(o.seed)}`);
  }
  if (typeof o.source !== 'string') {
    throw new Error(`'source' passed to '${caller}' must be a string, got ${String(o.source)}`);
  }
  return o;
}

/** Row descriptors: which user, how much history, which target, which label. */
interface RowSpec {
  user: Int32Array;   // index into seqs
  hist: Int32Array;   // history = seq[0 .. hist)
  target: Int32Array;
  label: Uint8Array;
}

function allocRows(n: number): RowSpec {
  return {
    user: new Int32Array(n), hist: new Int32Array(n),
    target: new Int32Array(n), label: new Uint8Array(n),
  };
}

/**
 * Builds train and test sets from users `1..seqs.length` (user `i + 1` has items `seqs[i]`, ids
 * in `1..numItems`, at least 3 each), exactly as protocol duet-seq-v1 lays rows out.
 */
export function buildSplitFromIndexed(seqs: readonly Int32Array[], numItems: number,
    o: ResolvedSplitOptions, caller: string): DuetSplit {
  const rng = createRng(o.seed);
  const U = seqs.length;
  // seen[item] === u + 1 marks the items of user u without clearing a set per user.
  const seen = new Int32Array(numItems + 1);
  const distinct = new Int32Array(U);
  for (let u = 0; u < U; u++) {
    const s = seqs[u];
    for (let j = 0; j < s.length; j++) {
      if (seen[s[j]] !== u + 1) {
        seen[s[j]] = u + 1;
        distinct[u]++;
      }
    }
  }
  const marked = { user: -1 };
  const negative = (u: number): number => {
    if (marked.user !== u) {
      if (distinct[u] >= numItems) {
        throw new Error(`'${caller}' cannot draw negatives for user ${u + 1}: they interacted ` +
          `with all ${numItems} items`);
      }
      for (const it of seqs[u]) seen[it] = u + 1;
      marked.user = u;
    }
    for (;;) {
      const c = 1 + rng.int(numItems);
      if (seen[c] !== u + 1) return c;
    }
  };

  // Train: targets s_2..s_{n-1}, each positive followed by its negatives.
  let nTrain = 0;
  for (const s of seqs) nTrain += Math.max(0, s.length - 2) * (1 + o.trainNeg);
  const train = allocRows(nTrain);
  let r = 0;
  for (let u = 0; u < U; u++) {
    const s = seqs[u];
    for (let t = 1; t < s.length - 1; t++) {
      train.user[r] = u; train.hist[r] = t; train.target[r] = s[t]; train.label[r] = 1; r++;
      for (let k = 0; k < o.trainNeg; k++) {
        train.user[r] = u; train.hist[r] = t; train.target[r] = negative(u); train.label[r] = 0; r++;
      }
    }
  }
  const order = new Int32Array(nTrain);
  for (let i = 0; i < nTrain; i++) order[i] = i;
  rng.shuffle(order);
  const trainOrder = o.maxTrainRows ? order.subarray(0, Math.min(o.maxTrainRows, nTrain)) : order;

  // Test: target s_n for a seeded subset of users, kept in user order.
  const testUsers = sampleUsers(U, o.maxTestUsers, rng);
  const test = allocRows(testUsers.length * (1 + o.testNeg));
  r = 0;
  for (const u of testUsers) {
    const s = seqs[u];
    const h = s.length - 1;
    test.user[r] = u; test.hist[r] = h; test.target[r] = s[h]; test.label[r] = 1; r++;
    for (let k = 0; k < o.testNeg; k++) {
      test.user[r] = u; test.hist[r] = h; test.target[r] = negative(u); test.label[r] = 0; r++;
    }
  }
  const testOrder = new Int32Array(test.user.length);
  for (let i = 0; i < testOrder.length; i++) testOrder[i] = i;

  const trainDs = materialize(seqs, train, trainOrder, o, numItems);
  const testDs = markTestSet(materialize(seqs, test, testOrder, o, numItems));
  const protocol: DuetProtocol = {
    protocol: 'duet-seq-v1',
    source: o.source,
    users: U,
    items: numItems,
    id_vocab: numItems + 1,
    train_rows: trainDs.size,
    test_users: testUsers.length,
    test_rows: testDs.size,
    max_len: o.maxLen,
    trigger_len: o.triggerLen,
    train_neg: o.trainNeg,
    test_neg: o.testNeg,
    max_test_users: o.maxTestUsers,
    max_train_rows: o.maxTrainRows,
    seed: o.seed,
  };
  return { train: trainDs, test: testDs, protocol };
}

/** All of `0..U-1` when `U <= max`, else a seeded random `max` of them; ascending either way. */
function sampleUsers(U: number, max: number, rng: Rng): Int32Array {
  const all = new Int32Array(U);
  for (let i = 0; i < U; i++) all[i] = i;
  if (U <= max) return all;
  for (let i = 0; i < max; i++) { // partial Fisher-Yates
    const j = i + rng.int(U - i);
    const t = all[i]; all[i] = all[j]; all[j] = t;
  }
  return all.slice(0, max).sort();
}

/** Copies `trigger`/`click` windows out of the users' sequences for the rows in `order`. */
function materialize(seqs: readonly Int32Array[], rows: RowSpec, order: Int32Array,
    o: ResolvedSplitOptions, numItems: number): DuetDataset {
  const n = order.length;
  const L = o.maxLen;
  const T = o.triggerLen;
  const ds: DuetDataset = {
    size: n, clickLength: L, triggerLength: T,
    user: new Int32Array(n), target: new Int32Array(n),
    trigger: new Int32Array(n * T), click: new Int32Array(n * L),
    label: new Float32Array(n),
    numItems, numUsers: seqs.length,
  };
  for (let i = 0; i < n; i++) {
    const r = order[i];
    const s = seqs[rows.user[r]];
    const h = rows.hist[r];
    ds.user[i] = rows.user[r] + 1;
    ds.target[i] = rows.target[r];
    ds.label[i] = rows.label[r];
    // The last W items before the target, oldest first, then zeros (already there).
    ds.trigger.set(s.subarray(Math.max(0, h - T), h), i * T);
    ds.click.set(s.subarray(Math.max(0, h - L), h), i * L);
  }
  return ds;
}
