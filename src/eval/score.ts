/**
 * Scoring every row of a dataset with a model, batch by batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../data/check_dataset';
import type { DuetDataset } from '../data/types';
import {
  dotItems, itemTowerOutputs, splitTwoTower, type TwoTowerParts, userTowerOutputs,
} from '../wrap/two_tower';
import { bindModelInputs, forwardLogits, type ModelInput, rowsToTensors } from './model_inputs';

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
  const parts = splitTwoTower(model);
  for (let start = 0; start < ds.size; start += batchSize) {
    const end = Math.min(start + batchSize, ds.size);
    if (parts !== null) {
      out.set(await scoreTwoTowerRows(parts, ds, inputs, start, end), start);
      continue;
    }
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

/**
 * Logits of rows `start..end` of a two-tower model: each distinct user (the same values in every
 * user-side column) is encoded once — a test split repeats each user's history over their 50
 * candidates — then scored against every row's target.
 */
async function scoreTwoTowerRows(parts: TwoTowerParts, ds: DuetDataset, inputs: readonly ModelInput[],
    start: number, end: number): Promise<Float32Array> {
  const userBindings = parts.userInputs.map((i) => inputs[i]);
  const firstRows: number[] = [];
  const userOfRow = new Int32Array(end - start);
  const seen = new Map<string, number>();
  for (let r = start; r < end; r++) {
    const key = userBindings.map((b) => ds[b.column].subarray(r * b.width, (r + 1) * b.width).join(',')).join(';');
    let u = seen.get(key);
    if (u === undefined) {
      u = firstRows.length;
      seen.set(key, u);
      firstRows.push(r);
    }
    userOfRow[r - start] = u;
  }
  const users = rowsToTensors(ds, userBindings, firstRows, 0, firstRows.length);
  const [target] = rowsToTensors(ds, [inputs[parts.targetInput]], null, start, end);
  const logits = tf.tidy(() => {
    const perRow = tf.gather(userTowerOutputs(parts, users), tf.tensor1d(userOfRow, 'int32'));
    return dotItems(perRow, itemTowerOutputs(parts, target));
  });
  try {
    return (await logits.data()) as Float32Array;
  } finally {
    tf.dispose([...users, target, logits]);
  }
}
