/**
 * Batches of sequence-level training on a seq-loo-v1 split: each user's training sequence
 * s_1..s_{n-2} (its last `clickLength + 1` items) becomes one row, the inputs right-padded and
 * the target at every position the next item. Plain typed arrays, so a batch can be sent to a
 * worker thread as it is. Browser-safe.
 */
import { createRng } from '../../data/rng';
import { type SeqLooSplit, seqLooTrainSequence } from '../../data/protocols/seq_loo';
import type { NegativeSample, SequenceLoss } from '../losses/types';
import { trainingCounts } from '../../eval/full_ranking/popularity';
import { epochOrder } from '../batches';

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
  /** Epoch number: each epoch gets its own order and negatives from the same seed. Default 0. */
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

/** Users whose training sequence has a target (at least 2 items). */
function trainableUsers(split: SeqLooSplit): Int32Array {
  const users: number[] = [];
  for (let u = 1; u <= split.numUsers; u++) if (split.offsets[u] - split.offsets[u - 1] - 2 >= 2) users.push(u);
  return Int32Array.from(users);
}

/** Number of users with at least one training target (the rows of an epoch). */
export function trainingRows(split: SeqLooSplit): number {
  return trainableUsers(split).length;
}

/** The epoch's users, batch by batch. */
function epochBatches(users: Int32Array, split: SeqLooSplit, o: Required<Omit<SequenceBatchOptions, 'itemCounts'>>):
    Int32Array[] {
  const order = epochOrder(users, o.seed, o.epoch);
  const windowLength = (u: number) => Math.min(o.clickLength, seqLooTrainSequence(split, u).length - 1);
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
  if (o.bucket) createRng((o.seed * 31 + o.epoch) | 0).shuffle(batches);
  return batches;
}

/**
 * One epoch of sequence-level batches over the users of `split` that have a training target
 * (users whose training sequence s_1..s_{n-2} has at least 2 items), each user once, in an order
 * that depends only on `(seed, epoch)`. A row is the user's last `clickLength + 1` training
 * items: inputs `w_1..w_{k-1}`, targets `w_2..w_k`, right-padded. The validation and test
 * targets (s_{n-1}, s_n) never appear. With a loss that samples negatives, each batch carries
 * them (for `bce`, drawn outside the user's training sequence).
 *
 * @param split The seq-loo-v1 split.
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
export function* sequenceBatches(split: SeqLooSplit, loss: SequenceLoss, options: SequenceBatchOptions):
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
  const batches = epochBatches(trainableUsers(split), split, {
    clickLength, batchSize, seed, epoch, bucket: options.bucket ?? true,
  });
  const rng = createRng((Math.imul(seed | 0, 0x27d4eb2d) ^ Math.imul(epoch + 1, 0x165667b1)) | 0);
  for (const users of batches) {
    const time = Math.max(...Array.from(users, (u) => Math.min(clickLength, seqLooTrainSequence(split, u).length - 1)));
    const click = new Int32Array(users.length * time);
    const targets = new Int32Array(users.length * time);
    const rowUsers: number[] = [];
    users.forEach((u, b) => {
      const sequence = seqLooTrainSequence(split, u);
      const window = sequence.subarray(Math.max(0, sequence.length - clickLength - 1));
      const k = window.length;
      click.set(window.subarray(0, k - 1), b * time);
      targets.set(window.subarray(1), b * time);
      for (let t = 0; t < k - 1; t++) rowUsers.push(u);
    });
    const targetList = targets.filter((t) => t > 0);
    const sets = new Map<number, Set<number>>();
    const negatives = loss.sampleNegatives(targetList, {
      rng,
      numItems: split.numItems,
      itemCounts,
      rowItems: (row) => {
        const u = rowUsers[row];
        let set = sets.get(u);
        if (set === undefined) {
          set = new Set(seqLooTrainSequence(split, u));
          sets.set(u, set);
        }
        return set;
      },
    });
    yield { size: users.length, time, numItems: split.numItems, users, click, targets, negatives };
  }
}
