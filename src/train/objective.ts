/**
 * A training objective: how a data set is cut into batches (and each batch into shards, one per
 * training thread) and what loss a batch has. One pluggable unit, rebuilt by name in every
 * worker thread, so `train` runs any objective on one thread or many with the same result.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Which part of every global batch a thread takes: shard `index` of `count` (contiguous, in row
 * order; the first `size mod count` shards take one row more).
 *
 * @example
 * ```ts
 * const second: ObjectiveShard = { index: 1, count: 2 };
 * ```
 */
export interface ObjectiveShard {
  /** This shard, from 0. */
  index: number;
  /** Shards per batch (threads). */
  count: number;
}

/**
 * How {@link TrainingObjective.batches} cuts an epoch.
 *
 * @example
 * ```ts
 * const options: ObjectiveBatchOptions = { batchSize: 1024, seed: 0, epoch: 0, shard: { index: 0, count: 2 } };
 * ```
 */
export interface ObjectiveBatchOptions {
  /** Examples per global batch (all shards together). */
  batchSize: number;
  /** Seed of the shuffles (and of any sampling). */
  seed: number;
  /** Epoch number from 0: each gets its own order from the same seed. */
  epoch: number;
  /** The part of each global batch to yield. Default: the whole batch. */
  shard?: ObjectiveShard;
}

/**
 * One step's share of a batch: the model's inputs and whatever else the loss reads.
 *
 * @example
 * ```ts
 * const empty: ObjectiveBatch = { inputs: [], tensors: [], examples: 0 };
 * ```
 */
export interface ObjectiveBatch {
  /** Model inputs in `model.inputs` order (empty when `examples` is 0). */
  inputs: tf.Tensor[];
  /** Other tensors the loss needs (labels, masks, sampled items). */
  tensors: tf.Tensor[];
  /** Examples (rows, sequences) in this share; 0 for a shard with nothing in this batch. */
  examples: number;
}

/**
 * The loss of one batch share as a sum and what the global loss divides it by: the loss of a
 * global batch is `Σ sum / Σ count` over its shards, and so are its gradients.
 *
 * @example
 * ```ts
 * const part: ObjectiveLoss = { sum: tf.scalar(3.2), count: 5 }; // mean 0.64 over 5 rows
 * ```
 */
export interface ObjectiveLoss {
  /** The sum of the per-example losses (not their mean), a scalar. */
  sum: tf.Scalar;
  /** What the global loss divides by (e.g. rows, or valid positions), known without the model. */
  count: number;
}

/**
 * A training objective. Implementations are registered by name ({@link registerObjective}) in a
 * module that worker threads import, and are rebuilt there from `name` and `options`. Batches must
 * depend only on `(data, batchSize, seed, epoch)` and the shard, and the shards of a batch must
 * together be exactly the batch one thread would get: then N threads train like one.
 *
 * @example
 * ```ts
 * const objective = createObjective({ name: 'pointwiseBce' });
 * for (const batch of objective.batches(model, trainSet, { batchSize: 256, seed: 0, epoch: 0 })) {
 *   const { sum, count } = objective.loss(model, batch);
 *   console.log(sum.dataSync()[0] / count);
 * }
 * ```
 */
export interface TrainingObjective<D = unknown> {
  /** The name it is registered under. */
  readonly name: string;
  /** Its options, plain JSON (what a worker rebuilds it from). */
  readonly options: Record<string, unknown>;
  /** Throws, naming `caller`, when `data` cannot train `model` with this objective. */
  check(model: tfl.LayersModel, data: D, caller: string): void;
  /** Optimisation steps in one epoch of `data` (the same for every shard). */
  steps(data: D, batchSize: number): number;
  /**
   * Training targets one example contributes on average (default 1): a sequence trains on every
   * position. The default thread count weighs a step's work by it, not by its example count.
   */
  targetsPerExample?(data: D): number;
  /**
   * One epoch's batches, one per step in order (with a shard: that shard's share, possibly
   * empty). Tensors of a batch are disposed by the caller.
   */
  batches(model: tfl.LayersModel, data: D, options: ObjectiveBatchOptions): Iterable<ObjectiveBatch>;
  /** The loss of a (non-empty) batch share, in training mode. */
  loss(model: tfl.LayersModel, batch: ObjectiveBatch): ObjectiveLoss;
}

/**
 * How to rebuild an objective: its registered name and plain-JSON options.
 *
 * @example
 * ```ts
 * const spec: ObjectiveSpec = { name: 'pointwiseBce', options: {} };
 * ```
 */
export interface ObjectiveSpec {
  /** The registered name. */
  name: string;
  /** Options handed to the factory. Default `{}`. */
  options?: Record<string, unknown>;
}

/**
 * Builds an objective from its plain-JSON options (what {@link registerObjective} takes).
 *
 * @example
 * ```ts
 * const factory: ObjectiveFactory = (options) => createObjective({ name: 'pointwiseBce', options });
 * ```
 */
export type ObjectiveFactory = (options: Record<string, unknown>) => TrainingObjective;

const REGISTRY = new Map<string, ObjectiveFactory>();

/**
 * Registers an objective factory under `name` (replacing one of the same name). Register in a
 * module that is imported wherever training runs, worker threads included
 * (`src/train/objectives/index.ts` for the built-in ones).
 *
 * @example
 * ```ts
 * registerObjective('myLoss', (options) => new MyLoss(options));
 * ```
 */
export function registerObjective(name: string, factory: ObjectiveFactory): void {
  if (typeof name !== 'string' || name === '') {
    throw new Error(`'name' passed to 'registerObjective' must be a non-empty string, got ${String(name)}`);
  }
  REGISTRY.set(name, factory);
}

/**
 * Builds a registered objective from its spec.
 *
 * @example
 * ```ts
 * const objective = createObjective({ name: 'pointwiseBce' });
 * ```
 */
export function createObjective(spec: ObjectiveSpec): TrainingObjective {
  const factory = REGISTRY.get(spec?.name);
  if (factory === undefined) {
    throw new Error(`unknown objective '${String(spec?.name)}'; registered objectives are ` +
      `${[...REGISTRY.keys()].map((n) => `'${n}'`).join(', ')}`);
  }
  return factory(spec.options ?? {});
}

/**
 * The rows of a global batch of `size` that shard `shard` takes: `[begin, end)` within the batch.
 *
 * @example
 * ```ts
 * shardRange(5, { index: 1, count: 2 }); // [3, 5]: shard 0 takes rows 0–2
 * ```
 */
export function shardRange(size: number, shard: ObjectiveShard | undefined): [number, number] {
  if (shard === undefined || shard.count === 1) return [0, size];
  const base = Math.floor(size / shard.count);
  const extra = size % shard.count;
  const begin = shard.index * base + Math.min(shard.index, extra);
  return [begin, begin + base + (shard.index < extra ? 1 : 0)];
}
