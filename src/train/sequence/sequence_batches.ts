/**
 * Batches of sequence-level training on a seq-loo-v1 split: each user's training sequence
 * s_1..s_{n-2} (its last `clickLength + 1` items) becomes one row, the inputs right-padded and
 * the target at every position the next item. Plain typed arrays, so a batch (and the data it is
 * cut from) can be sent to a worker thread as it is. Every random draw depends only on the seed,
 * the epoch, the step and the user, never on how a batch is split between threads.
 * Browser-safe.
 */
import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import { createRng, type Rng } from '../../data/rng';
import { trainingCounts } from '../../eval/full_ranking/popularity';
import { epochOrder } from '../batches';
import type { NegativeSample, SequenceLoss } from '../losses/types';

/**
 * The part of a seq-loo-v1 split that training reads (structured-cloneable: typed arrays and
 * numbers): every user's items and where each user's sequence starts.
 *
 * @example
 * ```ts
 * const table: SequenceTable = { items: split.items, offsets: split.offsets, numUsers: split.numUsers, numItems: split.numItems };
 * ```
 */
export type SequenceTable = Pick<SeqLooSplit, 'items' | 'offsets' | 'numUsers' | 'numItems'>;

/**
 * One batch of sequence-level training: `size` users, `time` positions each (the longest window
 * in the batch, so short sequences cost short rows).
 *
 * @example
 * ```ts
 * for (const batch of sequenceBatches(split, loss, { clickLength: 50 })) {
 *   const value = sequenceObjective(model, batch, loss); // a scalar
 * }
 * ```
 */
export interface SequenceBatch {
  /** Rows (users). */
  size: number;
  /** Positions per row. */
  time: number;
  /** Catalogue size N (items 1..N). */
  numItems: number;
  /** The internal user id of each row. */
  users: Int32Array;
  /** Input items `[size · time]`, row-major, right-padded with 0: position t is the (t+1)-th item of the window. */
  click: Int32Array;
  /** The target at each position (the next item), 0 where there is none, `[size · time]`. */
  targets: Int32Array;
  /** What the loss's sampler drew for the batch's targets (row-major order), or null. */
  negatives: NegativeSample | null;
}

/**
 * Options of {@link sequenceBatches}.
 *
 * @example
 * ```ts
 * const options: SequenceBatchOptions = { clickLength: 50, batchSize: 256, seed: 1, epoch: 3 };
 * ```
 */
export interface SequenceBatchOptions {
  /** The model's history length L: a row holds the last L + 1 training items (L inputs, L targets). Required. */
  clickLength: number;
  /** Users per batch. Default 256. */
  batchSize?: number;
  /** Seed of the order and of the negatives. Default 0. */
  seed?: number;
  /** Epoch number from 0: each epoch gets its own order and negatives from the same seed. Default 0. */
  epoch?: number;
  /**
   * Group users of similar length into batches (within windows of 32 batches of the shuffled
   * order, whose batches are then shuffled), so a batch's rows are cut to little padding.
   * Default true.
   */
  bucket?: boolean;
  /** Each item's training count at index item − 1 (the sampled softmax draws by it). Default: counted from the split. */
  itemCounts?: ArrayLike<number>;
}

/** User u's training sequence s_1..s_{n-2}. */
function trainSequenceOf(table: SequenceTable, user: number): Int32Array {
  return table.items.subarray(table.offsets[user - 1], table.offsets[user] - 2);
}

/** Users whose training sequence has a target (at least 2 items), in id order. */
export function trainableUsers(table: SequenceTable): Int32Array {
  const users: number[] = [];
  for (let u = 1; u <= table.numUsers; u++) if (table.offsets[u] - table.offsets[u - 1] - 2 >= 2) users.push(u);
  return Int32Array.from(users);
}

/** A generator seeded by a few integers (seed, epoch, step, …), mixed so nearby keys differ. */
export function keyedRng(...key: number[]): Rng {
  let h = 0x9e3779b9;
  for (const k of key) h = Math.imul(h ^ (k | 0), 0x85ebca6b) ^ (h >>> 13);
  return createRng(h | 0);
}

/**
 * The users of each global batch of epoch `epoch`, in step order: a seeded shuffle, with
 * `bucket` sorted by length within windows of 32 batches whose batches are then shuffled.
 *
 * @example
 * ```ts
 * const steps = epochUserBatches(split, { clickLength: 50, batchSize: 256, seed: 0, epoch: 0, bucket: true });
 * ```
 */
export function epochUserBatches(table: SequenceTable,
    o: { clickLength: number; batchSize: number; seed: number; epoch: number; bucket: boolean }): Int32Array[] {
  const order = epochOrder(trainableUsers(table), o.seed, o.epoch);
  const windowLength = (u: number) => Math.min(o.clickLength, trainSequenceOf(table, u).length - 1);
  const batches: Int32Array[] = [];
  const chunk = o.bucket ? 32 * o.batchSize : o.batchSize;
  for (let start = 0; start < order.length; start += chunk) {
    const part = order.slice(start, Math.min(start + chunk, order.length));
    if (o.bucket) {
      const lengths = new Map(Array.from(part, (u) => [u, windowLength(u)] as const));
      part.sort((a, b) => (lengths.get(a) as number) - (lengths.get(b) as number));
    }
    for (let i = 0; i < part.length; i += o.batchSize) batches.push(part.slice(i, i + o.batchSize));
  }
  if (o.bucket) keyedRng(o.seed, o.epoch, -1).shuffle(batches);
  return batches;
}

/**
 * One batch for `users` (a global batch of step `step`, or a thread's share of it): each row the
 * user's last `clickLength + 1` training items (inputs `w_1..w_{k-1}`, targets `w_2..w_k`),
 * right-padded, cut to the longest row. The loss's negatives come from generators keyed by
 * `(seed, epoch, step)` for what a batch shares and `(seed, epoch, user)` for what a row owns,
 * so every share of a global batch draws what the whole batch would.
 *
 * @example
 * ```ts
 * const batch = buildSequenceBatch(split, users, loss, { clickLength: 50, seed: 0, epoch: 0, step: 3, itemCounts });
 * ```
 */
export function buildSequenceBatch(table: SequenceTable, users: Int32Array, loss: SequenceLoss,
    o: { clickLength: number; seed: number; epoch: number; step: number; itemCounts: ArrayLike<number> }): SequenceBatch {
  const time = Math.max(1, ...Array.from(users, (u) => Math.min(o.clickLength, trainSequenceOf(table, u).length - 1)));
  const click = new Int32Array(users.length * time);
  const targets = new Int32Array(users.length * time);
  const rowUsers: number[] = [];
  users.forEach((u, b) => {
    const sequence = trainSequenceOf(table, u);
    const window = sequence.subarray(Math.max(0, sequence.length - o.clickLength - 1));
    click.set(window.subarray(0, window.length - 1), b * time);
    targets.set(window.subarray(1), b * time);
    for (let t = 0; t < window.length - 1; t++) rowUsers.push(u);
  });
  const targetList = targets.filter((t) => t > 0);
  const sets = new Map<number, Set<number>>();
  const rowRngs = new Map<number, Rng>();
  const shared = keyedRng(o.seed, o.epoch, o.step);
  const negatives = loss.sampleNegatives(targetList, {
    // Shared draws (the sampled softmax's) come from the step's generator, per-row draws (bce's)
    // from the row's user's: a thread holding part of the batch draws the same.
    rng: shared,
    rowRng: (row) => {
      const u = rowUsers[row];
      let rng = rowRngs.get(u);
      if (rng === undefined) {
        rng = keyedRng(o.seed, o.epoch, -2, u);
        rowRngs.set(u, rng);
      }
      return rng;
    },
    numItems: table.numItems,
    itemCounts: o.itemCounts,
    rowItems: (row) => {
      const u = rowUsers[row];
      let set = sets.get(u);
      if (set === undefined) {
        set = new Set(trainSequenceOf(table, u));
        sets.set(u, set);
      }
      return set;
    },
  });
  return { size: users.length, time, numItems: table.numItems, users, click, targets, negatives };
}

/**
 * One epoch of sequence-level batches over the users of `split` that have a training target
 * (users whose training sequence s_1..s_{n-2} has at least 2 items), each user once, in an order
 * that depends only on `(seed, epoch)` (the order of `epochUserBatches`, each batch built by `buildSequenceBatch`).
 * The validation and test targets (s_{n-1}, s_n) never appear. With a loss that samples
 * negatives, each batch carries them (for `bce`, drawn outside the user's training sequence).
 *
 * @param split The seq-loo-v1 split (or its {@link SequenceTable}).
 * @param loss The loss (its sampler is called per batch).
 * @param options See {@link SequenceBatchOptions}.
 * @returns A generator of {@link SequenceBatch}.
 * @example
 * ```ts
 * const loss = createSequenceLoss('ce');
 * let rows = 0;
 * for (const batch of sequenceBatches(split, loss, { clickLength: 50, epoch: 0 })) rows += batch.size;
 * ```
 */
export function* sequenceBatches(split: SequenceTable, loss: SequenceLoss, options: SequenceBatchOptions):
    Generator<SequenceBatch, void, undefined> {
  const fn = 'sequenceBatches';
  const clickLength = options?.clickLength;
  if (!Number.isInteger(clickLength) || clickLength < 1) {
    throw new Error(`'clickLength' passed to '${fn}' must be a positive integer, got ${String(clickLength)}`);
  }
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`'batchSize' passed to '${fn}' must be a positive integer, got ${String(batchSize)}`);
  }
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  if (!Number.isInteger(seed) || !Number.isInteger(epoch)) {
    throw new Error(`'seed' and 'epoch' passed to '${fn}' must be integers, got ${String(seed)} and ${String(epoch)}`);
  }
  const itemCounts = options.itemCounts ?? trainingCounts(split);
  const steps = epochUserBatches(split, { clickLength, batchSize, seed, epoch, bucket: options.bucket ?? true });
  for (let step = 0; step < steps.length; step++) {
    yield buildSequenceBatch(split, steps[step], loss, { clickLength, seed, epoch, step, itemCounts });
  }
}
