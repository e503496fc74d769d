/**
 * Input handling shared by the sequence layers: a layer takes one tensor or a list of tensors,
 * some of them optional (a trailing mask).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkMaskShape } from './sequence_mask';
import { shapeText } from './shape_text';

/** A tfjs-layers shape: unknown dimensions are `null`. */
export type Shape = tfl.Shape;

/** True when `inputShape` is a list of shapes (the layer got a list of inputs). */
export function isShapeList(inputShape: Shape | Shape[]): inputShape is Shape[] {
  return Array.isArray(inputShape[0]);
}

/**
 * Splits a layer's input shape(s) into a list, checking the count: `names` lists the inputs in
 * order and the first `required` of them must be present.
 */
export function splitInputShapes(
  inputShape: Shape | Shape[], names: string[], required: number, caller: string,
): Shape[] {
  const shapes = isShapeList(inputShape) ? inputShape : [inputShape];
  if (shapes.length < required || shapes.length > names.length) {
    const listed = names.map((n, i) => (i < required ? n : `${n}?`)).join(', ');
    throw new Error(`'${caller}' expects inputs [${listed}], got ${shapes.length} input(s)`);
  }
  return shapes;
}

/** Throws unless `shape` has rank `rank` and a known last dimension; returns that dimension. */
export function checkRankAndDim(
  shape: Shape, rank: number, what: string, name: string, caller: string,
): number {
  const last = shape[shape.length - 1];
  if (shape.length !== rank || last === null || last === undefined) {
    throw new Error(`'${name}' passed to '${caller}' must have shape ${what} with a known last ` +
      `dimension, got ${shapeText(shape)}`);
  }
  return last;
}

/**
 * The shapes of a sequence layer's inputs `[x [batch, time, dim], mask? [batch, time]]`, checked:
 * `x` of rank 3 with a known `dim`, the mask (when given) matching `x`.
 */
export function sequenceInputShapes(inputShape: Shape | Shape[], caller: string):
    [Shape, Shape | null] {
  const shapes = splitInputShapes(inputShape, ['x', 'mask'], 1, caller);
  const x = shapes[0];
  checkRankAndDim(x, 3, '[batch, time, dim]', 'x', caller);
  const mask = shapes[1] ?? null;
  if (mask !== null) checkMaskShape(mask, x, caller);
  return [x, mask];
}
