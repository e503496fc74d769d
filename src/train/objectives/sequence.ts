/**
 * The seq-loo-v1 objective: sequence-level training, a target at every position of each user's
 * training sequence, for `train`'s epoch runner on one thread or many. A global batch is a set
 * of users; a thread takes a contiguous share of them, and every random draw (negatives) depends
 * on the step and the user only, so N threads train exactly like one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { sequenceView, sequenceViewReason } from '../../wrap/sequence_view';
import { createSequenceLoss } from '../losses/create_loss';
import type { SequenceLoss, SequenceLossName } from '../losses/types';
import type { ObjectiveBatch, ObjectiveBatchOptions, ObjectiveLoss, TrainingObjective } from '../objective';
import { shardRange } from '../objective';
import {
  buildSequenceBatch, epochUserBatches, type SequenceTable, trainableUsers,
} from '../sequence/sequence_batches';
import { sequenceBatchTensors, sequenceLossOf } from '../sequence/sequence_objective';

/**
 * What the `'sequence'` objective trains on: the split's table and each item's training count
 * (the sampled softmax draws by it). Typed arrays only, so it posts to workers as it is.
 *
 * @example
 * ```ts
 * const data: SequenceData = { items: split.items, offsets: split.offsets, numUsers: split.numUsers,
 *   numItems: split.numItems, itemCounts: trainingCounts(split) };
 * ```
 */
export interface SequenceData extends SequenceTable {
  /** Training count of item i at index i − 1. */
  itemCounts: Float32Array;
}

/**
 * Options of the `'sequence'` objective (plain JSON).
 *
 * @example
 * ```ts
 * const options: SequenceObjectiveOptions = { loss: 'ce', clickLength: 50 };
 * ```
 */
export interface SequenceObjectiveOptions {
  /** The loss name. Default `'ce'`. */
  loss?: SequenceLossName;
  /** Its options. Default none. */
  lossOptions?: Record<string, unknown>;
  /** The model's click length L. Required. */
  clickLength: number;
  /** Group users of similar length into batches. Default true. */
  bucket?: boolean;
}

const KEYS = ['loss', 'lossOptions', 'clickLength', 'bucket'];

/**
 * Sequence-level training as a `TrainingObjective`, registered as `'sequence'`. A batch's share
 * is one input (`click [users, time]`) and the tensors `[positions, targets, negatives?,
 * correction?]`; its loss is summed over target positions and divided by their count.
 *
 * @example
 * ```ts
 * const objective = createObjective({ name: 'sequence', options: { loss: 'ce', clickLength: 50 } });
 * objective.steps(data, 256); // ceil(users with a training target / 256)
 * ```
 */
export class SequenceObjective implements TrainingObjective<SequenceData> {
  readonly name = 'sequence';
  readonly options: Record<string, unknown>;
  readonly sequenceLoss: SequenceLoss;
  private readonly clickLength: number;
  private readonly bucket: boolean;

  constructor(options: Record<string, unknown>) {
    for (const key of Object.keys(options ?? {})) {
      if (!KEYS.includes(key)) throw new Error(`unknown option '${key}' of objective 'sequence'; known: ${KEYS.join(', ')}`);
    }
    const o = options as unknown as SequenceObjectiveOptions;
    if (!Number.isInteger(o.clickLength) || o.clickLength < 1) {
      throw new Error(`'clickLength' of objective 'sequence' must be a positive integer, got ${String(o.clickLength)}`);
    }
    this.sequenceLoss = createSequenceLoss(o.loss ?? 'ce', o.lossOptions ?? {});
    this.clickLength = o.clickLength;
    this.bucket = o.bucket ?? true;
    this.options = { loss: this.sequenceLoss.name, lossOptions: { ...this.sequenceLoss.options }, clickLength: this.clickLength, bucket: this.bucket };
  }

  check(model: tfl.LayersModel, data: SequenceData, caller: string): void {
    const reason = sequenceViewReason(model);
    if (reason !== null) throw new Error(`'model' passed to '${caller}': ${reason}`);
    if (sequenceView(model).clickLength < this.clickLength) {
      throw new Error(`'model' passed to '${caller}' reads ${sequenceView(model).clickLength} items, fewer than ` +
        `the ${this.clickLength} of the objective`);
    }
    if (!(data?.items instanceof Int32Array) || !(data.offsets instanceof Int32Array) ||
        !(data.itemCounts instanceof Float32Array) || data.itemCounts.length !== data.numItems) {
      throw new Error(`'data' passed to '${caller}' must be a sequence table with item counts`);
    }
  }

  steps(data: SequenceData, batchSize: number): number {
    return Math.ceil(trainableUsers(data).length / batchSize);
  }

  targetsPerExample(data: SequenceData): number {
    const users = trainableUsers(data);
    let targets = 0;
    // The training part of a user's items is all but the last two (validation and test
    // targets); its first item is input only.
    for (const u of users) targets += Math.min(data.offsets[u] - data.offsets[u - 1] - 3, this.clickLength);
    return users.length === 0 ? 1 : targets / users.length;
  }

  *batches(_model: tfl.LayersModel, data: SequenceData, o: ObjectiveBatchOptions): Generator<ObjectiveBatch> {
    const steps = epochUserBatches(data, {
      clickLength: this.clickLength, batchSize: o.batchSize, seed: o.seed, epoch: o.epoch, bucket: this.bucket,
    });
    for (let step = 0; step < steps.length; step++) {
      const [begin, end] = shardRange(steps[step].length, o.shard);
      if (end === begin) {
        yield { inputs: [], tensors: [], examples: 0 };
        continue;
      }
      const batch = buildSequenceBatch(data, steps[step].subarray(begin, end), this.sequenceLoss, {
        clickLength: this.clickLength, seed: o.seed, epoch: o.epoch, step, itemCounts: data.itemCounts,
      });
      const t = sequenceBatchTensors(batch);
      yield {
        inputs: [t.click],
        // numItems rides along as a scalar, so the loss needs nothing but the batch.
        tensors: [t.positions, t.targets, tf.scalar(batch.numItems, 'int32'),
          ...(t.negatives ? [t.negatives] : []), ...(t.correction ? [t.correction] : [])],
        examples: end - begin,
      };
    }
  }

  loss(model: tfl.LayersModel, batch: ObjectiveBatch): ObjectiveLoss {
    const [positions, targets, numItems, ...rest] = batch.tensors as tf.Tensor1D[];
    const count = positions.shape[0];
    const negatives = rest[0] ?? null;
    const correction = rest[1] ?? null;
    const mean = sequenceLossOf(model, {
      click: batch.inputs[0] as tf.Tensor2D, positions, targets, negatives, correction,
    }, this.sequenceLoss, numItems.dataSync()[0], true);
    const sum = tf.mul(mean, count) as tf.Scalar;
    mean.dispose();
    return { sum, count };
  }
}
