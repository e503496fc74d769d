/**
 * `sequenceObjective`: the one self-contained unit of sequence-level training — given the
 * model, a batch and the loss, the scalar loss of a target at every position, in one forward
 * pass. A worker replica runs exactly this (the model rebuilt from its JSON config with
 * `createModel`, the loss from its name and options with `createSequenceLoss`). Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { sequenceView } from '../../wrap/sequence_view';
import type { SequenceLoss } from '../losses/types';
import type { SequenceBatch } from './sequence_batches';

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
  const fn = 'sequenceObjective';
  const view = sequenceView(model);
  const { size, time } = batch;
  if (batch.click.length !== size * time || batch.targets.length !== size * time) {
    throw new Error(`'batch' passed to '${fn}' must hold size · time = ${size * time} clicks and targets, ` +
      `got ${batch.click.length} and ${batch.targets.length}`);
  }
  if (time > view.clickLength) {
    throw new Error(`'batch' passed to '${fn}' has ${time} positions; the model reads at most ${view.clickLength}`);
  }
  const positions: number[] = [];
  for (let i = 0; i < batch.targets.length; i++) if (batch.targets[i] > 0) positions.push(i);
  if (positions.length === 0) throw new Error(`'batch' passed to '${fn}' has no target`);
  return tf.tidy(() => {
    const click = tf.tensor2d(batch.click, [size, time], 'int32');
    const at = tf.tensor1d(positions, 'int32');
    const users = view.userVectors(click, at, training);
    const targets = tf.tensor1d(positions.map((i) => batch.targets[i]), 'int32');
    const sample = batch.negatives;
    return loss.compute({
      users,
      targets,
      items: (ids) => view.itemVectors(ids, training),
      numItems: batch.numItems,
      negatives: sample === null ? null : tf.tensor1d(sample.items, 'int32'),
      correction: sample?.correction == null ? null : tf.tensor1d(sample.correction),
    });
  });
}
