/**
 * `sequenceObjective`: the one self-contained unit of sequence-level training — given the
 * model, a batch and the loss, the scalar loss of a target at every position, in one forward
 * pass. A worker replica runs exactly this (the model rebuilt from its JSON, the loss from its
 * name and options with `createSequenceLoss`). Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { sequenceView } from '../../wrap/sequence_view';
import type { SequenceLoss } from '../losses/types';
import type { SequenceBatch } from './sequence_batches';

/**
 * A {@link SequenceBatch} as tensors: the click rows, the target positions (`b · time + t`) and
 * their targets, and the loss's negatives and correction when it drew any.
 *
 * @example
 * ```ts
 * const tensors = sequenceBatchTensors(batch); // dispose them after use
 * ```
 */
export interface SequenceBatchTensors {
  /** `[size, time]` int32. */
  click: tf.Tensor2D;
  /** `[targets]` int32 positions into the flattened `[size · time]` rows. */
  positions: tf.Tensor1D;
  /** `[targets]` int32 target items. */
  targets: tf.Tensor1D;
  /** The loss's negatives (int32), or null. */
  negatives: tf.Tensor1D | null;
  /** The loss's correction, or null. */
  correction: tf.Tensor1D | null;
}

/**
 * The tensors of a batch (the caller disposes them).
 *
 * @example
 * ```ts
 * const t = sequenceBatchTensors(batch);
 * tf.dispose([t.click, t.positions, t.targets]);
 * ```
 */
export function sequenceBatchTensors(batch: SequenceBatch): SequenceBatchTensors {
  const { size, time } = batch;
  if (batch.click.length !== size * time || batch.targets.length !== size * time) {
    throw new Error(`'batch' must hold size · time = ${size * time} clicks and targets, ` +
      `got ${batch.click.length} and ${batch.targets.length}`);
  }
  const positions: number[] = [];
  for (let i = 0; i < batch.targets.length; i++) if (batch.targets[i] > 0) positions.push(i);
  const sample = batch.negatives;
  return {
    click: tf.tensor2d(batch.click, [size, time], 'int32'),
    positions: tf.tensor1d(positions, 'int32'),
    targets: tf.tensor1d(positions.map((i) => batch.targets[i]), 'int32'),
    negatives: sample === null ? null : tf.tensor1d(sample.items, 'int32'),
    correction: sample?.correction == null ? null : tf.tensor1d(sample.correction),
  };
}

/**
 * The mean loss over the target positions of a batch given as tensors (see
 * {@link sequenceObjective}).
 *
 * @example
 * ```ts
 * const value = sequenceLossOf(model, sequenceBatchTensors(batch), loss, split.numItems, true);
 * ```
 */
export function sequenceLossOf(model: tfl.LayersModel, t: SequenceBatchTensors, loss: SequenceLoss,
    numItems: number, training: boolean): tf.Scalar {
  const view = sequenceView(model);
  if (t.click.shape[1] > view.clickLength) {
    throw new Error(`'sequenceObjective': the batch has ${t.click.shape[1]} positions; the model reads at ` +
      `most ${view.clickLength}`);
  }
  if (t.positions.shape[0] === 0) throw new Error(`'sequenceObjective': the batch has no target`);
  return tf.tidy(() => loss.compute({
    users: view.userVectors(t.click, t.positions, training),
    targets: t.targets,
    items: (ids) => view.itemVectors(ids, training),
    numItems,
    negatives: t.negatives,
    correction: t.correction,
  }));
}

/**
 * The mean loss over the positions of `batch` that have a target: the model's user vectors at
 * those positions only (gathered before the user tower, so the output logits are computed for
 * real targets alone), scored by `loss` against the item tower. Call it inside
 * `tf.variableGrads` to train; `training` switches dropout on.
 *
 * @param model A model with a sequence view (see `sequenceView`): the reference SASRec or
 *   GRU4Rec, base or DUET.
 * @param batch A batch from `sequenceBatches` (plain arrays).
 * @param loss The loss (see `createSequenceLoss`).
 * @param training Whether dropout is on. Default true.
 * @returns The scalar loss; the caller disposes it.
 * @throws When the batch has no target, or is wider than the model's click input.
 * @example
 * ```ts
 * const loss = createSequenceLoss('ce');
 * for (const batch of sequenceBatches(split, loss, { clickLength: 50 })) {
 *   const { value, grads } = tf.variableGrads(() => sequenceObjective(model, batch, loss));
 * }
 * ```
 */
export function sequenceObjective(model: tfl.LayersModel, batch: SequenceBatch, loss: SequenceLoss,
    training = true): tf.Scalar {
  const t = sequenceBatchTensors(batch);
  try {
    return sequenceLossOf(model, t, loss, batch.numItems, training);
  } finally {
    tf.dispose([t.click, t.positions, t.targets, ...(t.negatives ? [t.negatives] : []), ...(t.correction ? [t.correction] : [])]);
  }
}
