/**
 * Checkpoints of one training run, as `train` and `trainSequence` use them: refuse to start over
 * a checkpoint unless resuming, refuse to resume one written with other options (naming them),
 * put a checkpoint's state back into the model and the optimisers, and write one after each epoch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import type { Stepper } from '../train_step';
import { type CheckpointArray, readCheckpoint, type TrainingCheckpoint, writeCheckpoint } from './checkpoint_file';

/**
 * The differences between the options a checkpoint was written with and a run's, one
 * `name (checkpoint X, now Y)` each; empty when they agree.
 *
 * @example
 * ```ts
 * optionDifferences({ batchSize: 256, seed: 0 }, { batchSize: 512, seed: 0 }); // ['batchSize (checkpoint 256, now 512)']
 * ```
 */
export function optionDifferences(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const show = (v: unknown) => v === undefined ? 'unset' : JSON.stringify(v);
  const names = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
  return names.filter((n) => show(saved[n]) !== show(now[n]))
    .map((n) => `${n} (checkpoint ${show(saved[n])}, now ${show(now[n])})`);
}

/**
 * Where and whether a run checkpoints.
 *
 * @example
 * ```ts
 * const settings: RunCheckpointSettings = { dir: 'runs/ckpt', resume: true };
 * ```
 */
export interface RunCheckpointSettings {
  /** The checkpoint folder, or undefined for none. */
  dir: string | undefined;
  /** Continue from the checkpoint in `dir`. */
  resume: boolean;
}

/**
 * Opens a run's checkpoints: the checkpoint to resume from (null for a fresh start), after every
 * check. Throws when resuming without a folder or a checkpoint, when a fresh run would overwrite
 * a checkpoint, and when the checkpoint belongs to another trainer or other options.
 *
 * @example
 * ```ts
 * const resumed = await openRunCheckpoint({ dir: 'ckpt', resume: true }, 'train', { batchSize: 256 }, 'train');
 * ```
 */
export async function openRunCheckpoint(settings: RunCheckpointSettings, trainer: string,
    options: Record<string, unknown>, caller: string): Promise<TrainingCheckpoint | null> {
  const { dir, resume } = settings;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
    throw new Error(`'checkpointDir' passed to '${caller}' must be a non-empty path, got ${String(dir)}`);
  }
  if (typeof resume !== 'boolean') throw new Error(`'resume' passed to '${caller}' must be a boolean, got ${String(resume)}`);
  if (dir === undefined) {
    if (resume) throw new Error(`'resume' passed to '${caller}' needs 'checkpointDir', the folder to resume from`);
    return null;
  }
  const found = await readCheckpoint(dir);
  if (found === null) {
    if (resume) throw new Error(`'${caller}': no checkpoint to resume in '${dir}' (one is written after each completed epoch)`);
    return null;
  }
  if (!resume) {
    throw new Error(`'${caller}': '${dir}' holds a checkpoint (epoch ${found.epoch} of a '${found.trainer}' run); ` +
      `resume it (resume: true, or --resume), or remove the folder to start over`);
  }
  if (found.trainer !== trainer) {
    throw new Error(`'${caller}': the checkpoint in '${dir}' was written by '${found.trainer}', not '${trainer}'`);
  }
  const differences = optionDifferences(found.options, options);
  if (differences.length > 0) {
    throw new Error(`'${caller}': cannot resume the checkpoint in '${dir}' with other options: ${differences.join('; ')}`);
  }
  return found;
}

function arrays(tensors: readonly tf.Tensor[]): CheckpointArray[] {
  return tensors.map((t) => ({
    values: (t.dtype === 'bool' ? Uint8Array.from(t.dataSync() as Uint8Array) : (t.dataSync() as Float32Array | Int32Array).slice()),
    shape: t.shape.slice(),
    dtype: t.dtype as CheckpointArray['dtype'],
  }));
}

/**
 * Tensors of a checkpoint's arrays (the caller disposes them).
 *
 * @example
 * ```ts
 * const weights = checkpointTensors(checkpoint.weights);
 * ```
 */
export function checkpointTensors(list: readonly CheckpointArray[]): tf.Tensor[] {
  return list.map((a) => tf.tensor(a.values, a.shape, a.dtype));
}

/**
 * Puts a checkpoint's weights into `model` and its optimiser state into `stepper`; the best
 * weights are returned as tensors (the caller's), or null.
 *
 * @example
 * ```ts
 * const best = restoreRun(checkpoint, model, stepper, 'ckpt');
 * ```
 */
export function restoreRun(checkpoint: TrainingCheckpoint, model: tfl.LayersModel, stepper: Stepper,
    dir: string): tf.Tensor[] | null {
  const weights = model.weights;
  const fits = (list: readonly CheckpointArray[]) => list.length === weights.length &&
    list.every((a, i) => a.dtype === weights[i].dtype && a.shape.join() === weights[i].shape.join());
  if (!fits(checkpoint.weights) || (checkpoint.best !== null && !fits(checkpoint.best))) {
    throw new Error(`checkpoint '${dir}': its weights do not fit the model (another architecture)`);
  }
  const values = checkpointTensors(checkpoint.weights);
  try {
    model.setWeights(values);
  } finally {
    tf.dispose(values);
  }
  stepper.importState(checkpoint.optimizer, `checkpoint '${dir}'`);
  return checkpoint.best === null ? null : checkpointTensors(checkpoint.best);
}

/**
 * Writes the checkpoint of a completed epoch: the model's weights, the best weights (if kept),
 * the optimisers' state and the loop's progress.
 *
 * @example
 * ```ts
 * await saveRun('ckpt', { trainer: 'train', epoch, threads, options, progress, model, best, stepper });
 * ```
 */
export async function saveRun(dir: string, o: {
  trainer: string; epoch: number; threads: number; options: Record<string, unknown>;
  progress: Record<string, unknown>; model: tfl.LayersModel; best: readonly tf.Tensor[] | null; stepper: Stepper;
}): Promise<void> {
  await writeCheckpoint(dir, {
    trainer: o.trainer, epoch: o.epoch, threads: o.threads, options: o.options, progress: o.progress,
    weights: arrays(o.model.getWeights()), best: o.best === null ? null : arrays(o.best),
    optimizer: o.stepper.exportState(),
  });
}
