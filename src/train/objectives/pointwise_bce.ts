/**
 * The duet-seq-v1 objective: each row (user, target, history, label) is one example, its loss the
 * binary cross-entropy of the model's logit. What `train` optimises by default.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../../data/check_dataset';
import type { DuetDataset } from '../../data/types';
import { bindModelInputs, forwardLogits, labelsToTensor, rowsToTensors } from '../../eval/model_inputs';
import { epochOrder } from '../batches';
import type { ObjectiveBatch, ObjectiveBatchOptions, ObjectiveLoss, TrainingObjective } from '../objective';
import { shardRange } from '../objective';

/**
 * Sum of the binary cross-entropies of logits, stable form `max(x, 0) − x·y + log(1 + exp(−|x|))`.
 *
 * @example
 * ```ts
 * bceSumWithLogits(tf.tensor1d([1, 0]), tf.tensor1d([0, 0])).dataSync()[0]; // 2 ln 2
 * ```
 */
export function bceSumWithLogits(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const x = tf.reshape(logits, [-1]);
    const y = tf.reshape(labels, [-1]);
    return tf.sum(tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))))) as tf.Scalar;
  });
}

/**
 * Row-wise BCE on logits over a {@link DuetDataset}, rows shuffled per epoch (the order
 * `datasetBatches` uses). Registered as `'pointwiseBce'`; takes no options.
 *
 * @example
 * ```ts
 * const objective = new PointwiseBce();
 * objective.steps(trainSet, 1024); // ceil(rows / 1024)
 * ```
 */
export class PointwiseBce implements TrainingObjective<DuetDataset> {
  readonly name = 'pointwiseBce';
  readonly options: Record<string, unknown> = {};

  constructor(options: Record<string, unknown> = {}) {
    const keys = Object.keys(options);
    if (keys.length > 0) throw new Error(`objective 'pointwiseBce' takes no options, got '${keys[0]}'`);
  }

  check(model: tfl.LayersModel, data: DuetDataset, caller: string): void {
    checkDataset(data, caller, 'data.train');
    bindModelInputs(model, data, caller);
  }

  steps(data: DuetDataset, batchSize: number): number {
    return Math.ceil(data.size / batchSize);
  }

  *batches(model: tfl.LayersModel, data: DuetDataset, o: ObjectiveBatchOptions): Generator<ObjectiveBatch> {
    const inputs = bindModelInputs(model, data, 'train');
    const order = epochOrder(data.size, o.seed, o.epoch);
    for (let start = 0; start < order.length; start += o.batchSize) {
      const size = Math.min(o.batchSize, order.length - start);
      const [begin, end] = shardRange(size, o.shard);
      if (end === begin) {
        yield { inputs: [], tensors: [], examples: 0 };
        continue;
      }
      yield {
        inputs: rowsToTensors(data, inputs, order, start + begin, start + end),
        tensors: [labelsToTensor(data, order, start + begin, start + end)],
        examples: end - begin,
      };
    }
  }

  loss(model: tfl.LayersModel, batch: ObjectiveBatch): ObjectiveLoss {
    const sum = tf.tidy(() => bceSumWithLogits(batch.tensors[0], forwardLogits(model, batch.inputs, true)));
    return { sum, count: batch.examples };
  }
}
