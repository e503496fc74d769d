/**
 * One thread's copy of the model in data-parallel training: it computes the gradient of its shard
 * of each batch, hands it to the {@link GradientExchange}, and applies the all-reduced gradient
 * with its own optimiser. Every replica starts from the same weights and applies the same update,
 * so the weights never drift apart. With no exchange (one thread) it is plain training.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import type { ObjectiveBatch, ObjectiveShard, TrainingObjective } from '../objective';
import type { Stepper } from '../train_step';
import type { GradientExchange } from './gradient_exchange';

/**
 * A step's loss over the whole global batch: `sum / count` is its mean.
 *
 * @example
 * ```ts
 * const loss: StepLoss = { sum: 354.9, count: 512 };
 * ```
 */
export interface StepLoss {
  /** Σ per-example losses over every shard. */
  sum: number;
  /** Σ counts over every shard. */
  count: number;
}

/**
 * Values of all trainable weights of `stepper`, the number of them (the gradient slot size).
 *
 * @example
 * ```ts
 * const size = gradientSize(stepper);
 * ```
 */
export function gradientSize(stepper: Stepper): number {
  return stepper.trainable.reduce((n, v) => n + v.size, 0);
}

/**
 * A model replica: its objective, data, optimiser and shard.
 *
 * @example
 * ```ts
 * const replica = new Replica(model, objective, data, stepper, { index: 0, count: 2 }, exchange);
 * for (const batch of replica.batches(0, 1024, 0)) { replica.contribute(step, batch); ... }
 * ```
 */
export class Replica {
  private readonly offsets: number[] = [];

  constructor(
    readonly model: tfl.LayersModel,
    private readonly objective: TrainingObjective,
    private readonly data: unknown,
    private readonly stepper: Stepper,
    readonly shard: ObjectiveShard,
    private readonly exchange?: GradientExchange,
  ) {
    let offset = 0;
    for (const v of stepper.trainable) {
      this.offsets.push(offset);
      offset += v.size;
    }
    if (exchange !== undefined && exchange.layout.size !== offset) {
      throw new Error(`the gradient exchange holds ${exchange.layout.size} values per shard, ` +
        `but this replica has ${offset} trainable values: the replica's model differs from the original`);
    }
  }

  /** This replica's shares of epoch `epoch`'s batches (from 0), one per step. */
  batches(epoch: number, batchSize: number, seed: number): Iterable<ObjectiveBatch> {
    return this.objective.batches(this.model, this.data, { batchSize, seed, epoch, shard: this.shard });
  }

  /** One thread: a whole step on `batch` (the mean loss's gradient, clipped, applied). */
  stepAlone(batch: ObjectiveBatch): StepLoss {
    let count = 0;
    const { value, grads } = this.stepper.gradients(() => {
      const loss = this.objective.loss(this.model, batch);
      count = loss.count;
      return tf.div(loss.sum, Math.max(count, 1)) as tf.Scalar;
    });
    this.stepper.apply(grads);
    const mean = value.dataSync()[0];
    value.dispose();
    return { sum: mean * count, count };
  }

  /** Parallel: writes the gradient of this shard's loss sum of step `step` into its slot. */
  contribute(step: number, batch: ObjectiveBatch): void {
    const exchange = this.exchange as GradientExchange;
    const slot = exchange.slot(step, this.shard.index);
    if (batch.examples === 0) {
      slot.fill(0);
      exchange.setLoss(step, this.shard.index, 0, 0);
      return;
    }
    let count = 0;
    const { value, grads } = this.stepper.gradients(() => {
      const loss = this.objective.loss(this.model, batch);
      count = loss.count;
      return loss.sum;
    });
    try {
      this.stepper.trainable.forEach((v, i) => {
        const g = grads[v.name];
        if (g === undefined) slot.fill(0, this.offsets[i], this.offsets[i] + v.size);
        else slot.set(g.dataSync() as Float32Array, this.offsets[i]);
      });
      exchange.setLoss(step, this.shard.index, value.dataSync()[0], count);
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  }

  /**
   * Parallel, after step `step`'s barrier: sums this shard's chunk of every shard's gradient,
   * scaled to the mean, into the shared reduced vector (the reduce-scatter half of the all-reduce).
   */
  reduceShare(step: number): void {
    const exchange = this.exchange as GradientExchange;
    exchange.reduceShare(step, this.shard.index, 1 / Math.max(exchange.totalLoss(step).count, 1));
  }

  /**
   * Parallel, after every shard's {@link reduceShare} of step `step` (a second barrier): applies
   * the whole reduced mean gradient (the all-gather half); returns the step's loss.
   */
  applyReduced(step: number): StepLoss {
    const exchange = this.exchange as GradientExchange;
    const loss = exchange.totalLoss(step);
    const mean = exchange.reduced(step);
    const grads: tf.NamedTensorMap = {};
    this.stepper.trainable.forEach((v, i) => {
      grads[v.name] = tf.tensor(mean.slice(this.offsets[i], this.offsets[i] + v.size), v.shape, 'float32');
    });
    this.stepper.apply(grads);
    return loss;
  }
}
