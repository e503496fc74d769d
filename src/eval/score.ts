/**
 * Scoring every row of a dataset with a model, batch by batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../data/check_dataset';
import type { DuetDataset } from '../data/types';
import { bindModelInputs, forwardLogits, rowsToTensors } from './model_inputs';

/**
 * Options of {@link scoreDataset}.
 *
 * @example
 * ```ts
 * const options: ScoreOptions = { batchSize: 4096 };
 * ```
 */
export interface ScoreOptions {
  /** Rows per forward pass; only memory and speed depend on it, never the scores. Default 1024. */
  batchSize?: number;
}

/**
 * Throws unless `value` is a positive integer; returns it. Internal.
 *
 * @example
 * ```ts
 * const k = checkPositiveInt(options.k ?? 10, 'recommend', 'k');
 * ```
 */
export function checkPositiveInt(value: unknown, fn: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`'${name}' passed to '${fn}' must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * The model's logit for every row of `ds`, in row order, computed in inference mode (dropout
 * off) in batches of `batchSize`. Inputs are fed by name (see `bindModelInputs`): each model
 * input must be named `target`, `click`, `trigger` or `user`.
 *
 * @param model A model with inputs named after dataset columns and one logit output per row.
 * @param ds The rows to score.
 * @param options See {@link ScoreOptions}.
 * @returns One logit per row, `Float32Array` of length `ds.size`.
 * @throws When an input is not a column, a sequence width differs from the data's, or batchSize is not a positive integer.
 * @example
 * ```ts
 * const logits = await scoreDataset(model, test, { batchSize: 2048 });
 * evaluateRanking(logits, test.label, test.user);
 * ```
 */
export async function scoreDataset(model: tfl.LayersModel, ds: DuetDataset, options: ScoreOptions = {}): Promise<Float32Array> {
  const fn = 'scoreDataset';
  checkDataset(ds, fn, 'ds');
  const batchSize = checkPositiveInt(options.batchSize ?? 1024, fn, 'batchSize');
  const inputs = bindModelInputs(model, ds, fn);
  const out = new Float32Array(ds.size);
  for (let start = 0; start < ds.size; start += batchSize) {
    const end = Math.min(start + batchSize, ds.size);
    const xs = rowsToTensors(ds, inputs, null, start, end);
    let logits: tf.Tensor1D | undefined;
    try {
      logits = forwardLogits(model, xs, false);
      out.set(await logits.data(), start);
    } finally {
      tf.dispose(xs);
      logits?.dispose();
    }
  }
  return out;
}
