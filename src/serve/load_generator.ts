/**
 * `loadGenerator`: the generator model the service runs, from a model directory or memory.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { isLayerClass } from '../layers/layer_class';
import { ParameterGenerator } from '../layers/parameter_generator';
import { withDirectPredict } from '../wrap/direct_forward';
import { loadDuet } from '../wrap/file_io';
import { splitDuet } from '../wrap/split_duet';

/**
 * The generator part of a model: the model itself when its only output is a
 * ParameterGenerator's, otherwise `splitDuet(model).generator` (a full DUET model).
 * A string is a directory saved with {@link saveDuet} (Node only). Generators made or read here
 * predict through {@link withDirectPredict}.
 *
 * @example
 * ```ts
 * const generator = await loadGenerator('./models/duet'); // a saved full DUET model
 * ```
 */
export async function loadGenerator(source: string | tfl.LayersModel): Promise<tfl.LayersModel> {
  let model: tfl.LayersModel;
  if (typeof source === 'string') {
    model = await loadDuet(source);
  } else if (source instanceof tfl.LayersModel) {
    model = source;
  } else {
    throw new Error(`'model' passed to 'loadGenerator' must be a model directory or a ` +
      `tfjs-layers LayersModel, got ${source === null ? 'null' : typeof source}`);
  }
  const outputs = model.outputs;
  if (outputs.length === 1 && isLayerClass(outputs[0].sourceLayer, ParameterGenerator)) {
    // A model read here is ours to speed up; a caller's model keeps its own predict.
    return typeof source === 'string' ? withDirectPredict(model) : model;
  }
  return splitDuet(model).generator;
}
