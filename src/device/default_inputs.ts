/**
 * The inputs a device model gets when the app gives no `inputs` function: a model whose inputs
 * are named after the dataset columns (the reference SASRec, GRU4Rec and DIN, and any model
 * built the same way) is fed like its training data, so `topK` works with no code of the app's.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Builds the device model's inputs (all but the parameters) for candidates and a history (indices). */
export type InputsBuilder = (candidates: readonly number[], history: readonly number[]) => tf.Tensor[];

/** The last `width` items, oldest first, right-padded with 0: as protocol duet-seq-v1 builds rows. */
function lastItems(history: readonly number[], width: number): number[] {
  const row = new Array<number>(width).fill(0);
  history.slice(-width).forEach((id, i) => { row[i] = id; });
  return row;
}

/**
 * The inputs of a model whose non-parameter inputs are `target` (`[n, 1]`: the candidates) and
 * `click` / `trigger` (`[1, L]`: the user's last L items, right-padded with 0, one row shared by
 * every candidate), or null, with the reason, when an input has another name or shape.
 *
 * @example
 * ```ts
 * const built = columnInputs(device);
 * if ('inputs' in built) built.inputs([5, 9], [3, 1, 4]); // [target [2, 1], click [1, L]]
 * ```
 */
export function columnInputs(model: tfl.LayersModel): { inputs: InputsBuilder } | { reason: string } {
  const inputs = model.inputs.slice(0, -1);
  const plan: Array<{ column: 'target' | 'sequence'; width: number; dtype: 'int32' | 'float32' }> = [];
  for (const input of inputs) {
    const name = input.sourceLayer?.name ?? input.name;
    const dtype = input.dtype === 'int32' ? 'int32' : 'float32';
    const width = input.shape[1];
    if (input.shape.length !== 2 || typeof width !== 'number') {
      return { reason: `input '${name}' has shape [${input.shape.join(', ')}], not [batch, width]` };
    }
    if (name === 'target' && width === 1) plan.push({ column: 'target', width, dtype });
    else if (name === 'click' || name === 'trigger') plan.push({ column: 'sequence', width, dtype });
    else return { reason: `input '${name}' is none of 'target' [batch, 1], 'click', 'trigger'` };
  }
  if (!plan.some((p) => p.column === 'target')) return { reason: "the model has no 'target' input" };
  return {
    inputs: (candidates, history) => plan.map((p) => (p.column === 'target' ?
      tf.tensor2d(candidates as number[], [candidates.length, 1], p.dtype) :
      tf.tensor2d([lastItems(history, p.width)], [1, p.width], p.dtype))),
  };
}
