/**
 * The model contract shared by training, scoring and recommending: a model's inputs are named
 * after {@link DuetDataset} columns (`target`, `click`, `trigger`, `user`) and it outputs one
 * logit per row. This file matches inputs to columns and builds input tensors from rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import type { DuetDataset } from '../data/types';

/**
 * A dataset column a model input can be fed from.
 *
 * @example
 * ```ts
 * const column: DuetColumn = 'click';
 * ```
 */
export type DuetColumn = 'target' | 'click' | 'trigger' | 'user';

/**
 * The columns a model input may be named after.
 *
 * @example
 * ```ts
 * const click = tfl.input({ shape: [30], name: DUET_COLUMNS[1], dtype: 'int32' }); // 'click'
 * ```
 */
export const DUET_COLUMNS: readonly DuetColumn[] = ['target', 'click', 'trigger', 'user'];

/**
 * How one model input is fed: which column, how many values per row, and the tensor layout.
 *
 * @example
 * ```ts
 * const [first]: ModelInput[] = bindModelInputs(model, train, 'myFunction');
 * first.column; // 'target'
 * ```
 */
export interface ModelInput {
  /** Position in `model.inputs`. */
  index: number;
  /** The input's name (its layer's name). */
  name: string;
  /** The column it is fed from. */
  column: DuetColumn;
  /** Values per row: 1 for `target` and `user`, L for `click`, T for `trigger`. */
  width: number;
  /** Shape of one row's tensor without the batch dimension: `[]`, `[1]` or `[width]`. */
  rowShape: number[];
  /** Dtype the input declares (`int32`, or `float32` holding exact integer ids). */
  dtype: 'int32' | 'float32';
}

/**
 * Sequence widths the inputs are checked against (a dataset has both).
 *
 * @example
 * ```ts
 * const widths: SequenceWidths = { clickLength: 30, triggerLength: 10 };
 * ```
 */
export interface SequenceWidths {
  /** Width L of `click` rows. */
  clickLength: number;
  /** Width T of `trigger` rows. */
  triggerLength: number;
}

function shapeText(shape: ReadonlyArray<number | null>): string {
  return `[${shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : 'null') : String(d))).join(', ')}]`;
}

/**
 * Throws unless `model` is a tfjs-layers model with a single `[batch, 1]` (or `[batch]`) output.
 *
 * @example
 * ```ts
 * checkLogitModel(model, 'recommend'); // passes for a model ending in dense({ units: 1 })
 * ```
 */
export function checkLogitModel(model: tfl.LayersModel, caller: string): void {
  if (!(model instanceof tfl.LayersModel)) {
    throw new Error(`'model' passed to '${caller}' must be a tfjs-layers LayersModel, got ` +
      `${model === null ? 'null' : typeof model}`);
  }
  if (model.outputs.length !== 1) {
    throw new Error(`'model' passed to '${caller}' must have one output (a logit per row), ` +
      `got ${model.outputs.length} outputs`);
  }
  const shape = model.outputs[0].shape;
  if (!(shape.length === 1 || (shape.length === 2 && (shape[1] === 1 || shape[1] === null)))) {
    throw new Error(`'model' passed to '${caller}' must output one logit per row, shape ` +
      `[batch, 1], got ${shapeText(shape)}`);
  }
}

/**
 * Matches each input of `model` to a dataset column by the input's name (its layer's name) and
 * checks the shapes: `target` and `user` take `[batch, 1]` (or `[batch]`), `click` takes
 * `[batch, clickLength]`, `trigger` takes `[batch, triggerLength]`. A sequence input of unknown
 * width takes the width given in `widths`.
 *
 * @param model The model; see the file comment for the contract.
 * @param widths The sequence widths of the data to feed (a {@link DuetDataset} works).
 * @param caller The public function's name, for errors.
 * @returns One binding per model input, in `model.inputs` order.
 * @throws When an input name is not a column, a shape does not fit, or the output is not one logit.
 * @example
 * ```ts
 * const inputs = bindModelInputs(model, train, 'scoreDataset');
 * inputs.map((b) => b.column); // ['target', 'click']
 * ```
 */
export function bindModelInputs(model: tfl.LayersModel, widths: SequenceWidths, caller: string): ModelInput[] {
  checkLogitModel(model, caller);
  const seen = new Set<DuetColumn>();
  return model.inputs.map((input, index) => {
    const name = input.sourceLayer?.name ?? model.inputNames[index];
    if (!(DUET_COLUMNS as readonly string[]).includes(name)) {
      throw new Error(`'${caller}': model input '${name}' is not a dataset column; inputs must be ` +
        `named after one of ${DUET_COLUMNS.map((c) => `'${c}'`).join(', ')}`);
    }
    const column = name as DuetColumn;
    if (seen.has(column)) throw new Error(`'${caller}': model has two inputs named '${column}'`);
    seen.add(column);
    const shape = input.shape;
    const rowShape = shape.slice(1);
    let width: number;
    if (column === 'target' || column === 'user') {
      if (!(rowShape.length === 0 || (rowShape.length === 1 && (rowShape[0] === 1 || rowShape[0] === null)))) {
        throw new Error(`'${caller}': model input '${column}' must have shape [batch, 1], got ${shapeText(shape)}`);
      }
      width = 1;
    } else {
      const want = column === 'click' ? widths.clickLength : widths.triggerLength;
      if (rowShape.length !== 1 || (rowShape[0] !== null && rowShape[0] !== want)) {
        throw new Error(`'${caller}': model input '${column}' must have shape [batch, ${want}] ` +
          `(the data's ${column === 'click' ? 'clickLength' : 'triggerLength'}), got ${shapeText(shape)}`);
      }
      width = want;
    }
    return {
      index, name, column, width,
      rowShape: rowShape.length === 0 ? [] : [width],
      dtype: input.dtype === 'int32' ? 'int32' : 'float32',
    };
  });
}

/**
 * Input tensors (in `model.inputs` order) for rows `order[start..end)` of `ds`, or rows
 * `start..end` when `order` is null. The caller owns (and disposes) the tensors.
 *
 * @example
 * ```ts
 * const xs = rowsToTensors(ds, bindModelInputs(model, ds, 'f'), null, 0, 32);
 * tf.dispose(xs);
 * ```
 */
export function rowsToTensors(ds: DuetDataset, inputs: readonly ModelInput[],
    order: ArrayLike<number> | null, start: number, end: number): tf.Tensor[] {
  const n = end - start;
  return inputs.map((b) => {
    // The backend may keep this buffer as the tensor's storage: a fresh one per call.
    const values = b.dtype === 'int32' ? new Int32Array(n * b.width) : new Float32Array(n * b.width);
    const source = ds[b.column];
    for (let r = 0; r < n; r++) {
      const i = order === null ? start + r : order[start + r];
      if (b.width === 1) values[r] = source[i];
      else values.set(source.subarray(i * b.width, (i + 1) * b.width), r * b.width);
    }
    return tf.tensor(values, [n, ...b.rowShape], b.dtype);
  });
}

/**
 * Labels of rows `order[start..end)` (or `start..end`) as a `[n, 1]` float32 tensor.
 *
 * @example
 * ```ts
 * const y = labelsToTensor(ds, null, 0, 32); // [32, 1]
 * ```
 */
export function labelsToTensor(ds: DuetDataset, order: ArrayLike<number> | null, start: number, end: number): tf.Tensor2D {
  const n = end - start;
  const values = new Float32Array(n);
  for (let r = 0; r < n; r++) values[r] = ds.label[order === null ? start + r : order[start + r]];
  return tf.tensor2d(values, [n, 1], 'float32');
}

/**
 * Runs the model on concrete inputs and returns its logits as a `[n]` tensor (caller disposes).
 *
 * @example
 * ```ts
 * const logits = forwardLogits(model, xs, false); // inference mode
 * ```
 */
export function forwardLogits(model: tfl.LayersModel, inputs: tf.Tensor[], training: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const out = model.apply(inputs.length === 1 ? inputs[0] : inputs, { training }) as tf.Tensor;
    return tf.reshape(out, [-1]) as tf.Tensor1D;
  });
}
