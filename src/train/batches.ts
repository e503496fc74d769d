/**
 * Turning dataset rows into batches of model input tensors, shuffled per epoch from a seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../data/check_dataset';
import { createRng } from '../data/rng';
import type { DuetDataset } from '../data/types';
import { bindModelInputs, labelsToTensor, rowsToTensors } from '../eval/model_inputs';
import { checkPositiveInt } from '../eval/score';

/** Options of {@link datasetBatches}. */
export interface BatchOptions {
  /** Rows per batch; the last batch of an epoch may be smaller. Default 1024. */
  batchSize?: number;
  /** The row indices to draw from (a subset, e.g. one user's rows). Default: every row. */
  rows?: ArrayLike<number>;
  /** Shuffle the rows (seeded by `seed` and `epoch`); otherwise keep their order. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Epoch number (any integer): each epoch gets its own order from the same seed. Default 0. */
  epoch?: number;
}

/**
 * One batch: input tensors in `model.inputs` order, labels, and which rows they hold.
 *
 * @example
 * ```ts
 * for (const batch of datasetBatches(model, train, { batchSize: 8 })) console.log(batch.size, batch.rows[0]);
 * ```
 */
export interface DuetBatch {
  /** Input tensors in `model.inputs` order, each `[size, …]`. */
  inputs: tf.Tensor[];
  /** Labels, `[size, 1]` float32. */
  labels: tf.Tensor2D;
  /** The dataset row of each batch row. */
  rows: Int32Array;
  /** Number of rows. */
  size: number;
}

/** An int32 seed for epoch `epoch` of a run seeded with `seed`, so epochs differ but replay. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul((epoch | 0) + 1, 0x85ebca6b)) | 0;
}

/**
 * The order in which an epoch visits `rows` (or rows `0..rows-1` when a count is given): a
 * seeded permutation that depends only on `(rows, seed, epoch)`.
 *
 * @example
 * ```ts
 * epochOrder(5, 0, 0); // a permutation of 0..4, the same on every run
 * epochOrder(5, 0, 1); // another one for the next epoch
 * ```
 */
export function epochOrder(rows: number | ArrayLike<number>, seed = 0, epoch = 0): Int32Array {
  if (!Number.isInteger(seed)) throw new Error(`'seed' passed to 'epochOrder' must be an integer, got ${String(seed)}`);
  if (!Number.isInteger(epoch)) throw new Error(`'epoch' passed to 'epochOrder' must be an integer, got ${String(epoch)}`);
  const order = typeof rows === 'number' ? Int32Array.from({ length: rows }, (_, i) => i) : Int32Array.from(rows);
  return createRng(epochSeed(seed, epoch)).shuffle(order);
}

/**
 * One epoch of batches over `ds` for `model`: every row (of `rows`, if given) exactly once, in a
 * seeded shuffled order. Inputs are matched to columns by name (see `bindModelInputs`).
 *
 * A batch's tensors are disposed when the next batch is requested and when the loop ends
 * (including `break` and exceptions), so a loop leaks nothing; clone what must outlive it.
 *
 * @param model The model whose inputs to build (named `target`, `click`, `trigger`, `user`).
 * @param ds The dataset.
 * @param options See {@link BatchOptions}.
 * @returns A generator of {@link DuetBatch}.
 * @throws When an input is not a column, shapes do not fit, batchSize is not a positive integer,
 * or a row index is out of range.
 * @example
 * ```ts
 * for (const batch of datasetBatches(model, train, { batchSize: 256, seed: 0, epoch })) {
 *   const loss = tf.tidy(() => tf.losses.sigmoidCrossEntropy(batch.labels,
 *     model.apply(batch.inputs) as tf.Tensor));
 *   loss.dispose();
 * }
 * ```
 */
export function* datasetBatches(model: tfl.LayersModel, ds: DuetDataset, options: BatchOptions = {}):
    Generator<DuetBatch, void, undefined> {
  const fn = 'datasetBatches';
  checkDataset(ds, fn, 'ds');
  const batchSize = checkPositiveInt(options.batchSize ?? 1024, fn, 'batchSize');
  const inputs = bindModelInputs(model, ds, fn);
  const rows = options.rows ?? ds.size;
  if (typeof rows !== 'number') {
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r];
      if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
        throw new Error(`'rows' passed to '${fn}' must hold row numbers in [0, ${ds.size}), got ${String(i)} at position ${r}`);
      }
    }
  }
  const order = options.shuffle === false
    ? (typeof rows === 'number' ? Int32Array.from({ length: rows }, (_, i) => i) : Int32Array.from(rows))
    : epochOrder(rows, options.seed ?? 0, options.epoch ?? 0);
  let current: DuetBatch | undefined;
  try {
    for (let start = 0; start < order.length; start += batchSize) {
      const end = Math.min(start + batchSize, order.length);
      const xs = rowsToTensors(ds, inputs, order, start, end);
      current = { inputs: xs, labels: labelsToTensor(ds, order, start, end), rows: order.slice(start, end), size: end - start };
      yield current;
      tf.dispose([current.inputs, current.labels]);
      current = undefined;
    }
  } finally {
    if (current !== undefined) tf.dispose([current.inputs, current.labels]);
  }
}
