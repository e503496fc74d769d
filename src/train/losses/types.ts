/**
 * What a sequence-level loss is: a name, plain options (so a worker can rebuild it from JSON), a
 * sampler of the negatives it needs (drawn on the JS side, per batch) and the loss itself.
 * Browser-safe.
 */
import type * as tf from '@tensorflow/tfjs-core';

import type { Rng } from '../../data/rng';

/**
 * The losses of sequence-level training: `'ce'` (full softmax over the catalogue), `'sampled'`
 * (sampled softmax, shared popularity-sampled negatives with the log-frequency correction) and
 * `'bce'` (one uniformly sampled negative per position, SASRec's original).
 *
 * @example
 * ```ts
 * const name: SequenceLossName = 'ce';
 * ```
 */
export type SequenceLossName = 'ce' | 'sampled' | 'bce';

/**
 * Item vectors for item ids: the model's item tower (vectors `[n, dim]`, per-item bias `[n]` or null).
 *
 * @example
 * ```ts
 * const items: ItemScorer = (ids) => view.itemVectors(ids, true);
 * ```
 */
export type ItemScorer = (ids: tf.Tensor1D) => { vectors: tf.Tensor2D; bias: tf.Tensor1D | null };

/**
 * What a loss computes on: the user vectors at the target positions, the targets, the item
 * tower, the catalogue size and the negatives its sampler drew.
 *
 * @example
 * ```ts
 * const value = loss.compute({ users, targets, items, numItems: 100, negatives: null });
 * ```
 */
export interface LossInputs {
  /** User vectors at the positions that have a target, `[rows, dim]`. */
  users: tf.Tensor2D;
  /** The target item of each row, int32 `[rows]`, in 1..numItems. */
  targets: tf.Tensor1D;
  /** The item tower. */
  items: ItemScorer;
  /** Catalogue size N (items 1..N; 0 is padding, never a class). */
  numItems: number;
  /** The items {@link SequenceLoss.sampleNegatives} drew for this batch (int32), or null. */
  negatives: tf.Tensor1D | null;
  /** The correction it computed with them (see {@link NegativeSample}), or null. */
  correction: tf.Tensor1D | null;
}

/**
 * What a loss's sampler drew for one batch: plain arrays, so they can be sent to a worker.
 *
 * @example
 * ```ts
 * const sample: NegativeSample = { items: Int32Array.of(4, 9), correction: null };
 * ```
 */
export interface NegativeSample {
  /** The negative items (per row or shared, as the loss defines). */
  items: Int32Array;
  /** Per-logit offsets the loss subtracts (the sampled softmax's log(K·Q): targets, then negatives), or null. */
  correction: Float32Array | null;
}

/**
 * What a loss's sampler may read: the batch's random generator, the catalogue, each item's
 * training count and each row's own items (never drawn as that row's negative).
 *
 * @example
 * ```ts
 * const context: SamplingContext = { rng: createRng(0), rowRng: () => rng, numItems, itemCounts, rowItems: (i) => seen[i] };
 * ```
 */
export interface SamplingContext {
  /** The seeded generator of draws the whole batch shares (keyed by the step). */
  rng: Rng;
  /** The seeded generator of draws that belong to target row `row` (keyed by its user, not by the batch). */
  rowRng(row: number): Rng;
  /** Catalogue size N. */
  numItems: number;
  /** How often item i occurs in the training sequences, at index i - 1. */
  itemCounts: ArrayLike<number>;
  /** The items of the user behind target row `row` (in target order). */
  rowItems(row: number): ReadonlySet<number>;
}

/**
 * A sequence-level loss: rebuildable from `name` and `options` alone (see `createSequenceLoss`).
 *
 * @example
 * ```ts
 * const loss: SequenceLoss = createSequenceLoss('sampled', { negatives: 512 });
 * ```
 */
export interface SequenceLoss {
  /** Which loss. */
  readonly name: SequenceLossName;
  /** Its resolved options, plain numbers (JSON-ready). */
  readonly options: Readonly<Record<string, number>>;
  /** The negatives one batch needs for its target rows (`targets`, in row order); null when the loss needs none. */
  sampleNegatives(targets: Int32Array, context: SamplingContext): NegativeSample | null;
  /** The mean loss over the rows, a scalar (differentiable). */
  compute(inputs: LossInputs): tf.Scalar;
}
