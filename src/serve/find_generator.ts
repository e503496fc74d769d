/**
 * Finds the one `ParameterGenerator` layer of a model (a generator model or a full DUET model).
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { isLayerClass } from '../layers/layer_class';
import { ParameterGenerator } from '../layers/parameter_generator';

/**
 * The model's single {@link ParameterGenerator} layer; throws naming `caller` when there is none
 * or more than one.
 *
 * @example
 * ```ts
 * const layer = findParameterGenerator(generator, 'createServer');
 * console.log(layer.totalParams, layer.options.vocabSize);
 * ```
 */
export function findParameterGenerator(model: tfl.LayersModel, caller: string):
    ParameterGenerator {
  if (!(model instanceof tfl.LayersModel)) {
    throw new Error(`'model' passed to '${caller}' must be a tfjs-layers LayersModel`);
  }
  const found = model.layers.filter((l) => isLayerClass(l, ParameterGenerator)) as ParameterGenerator[];
  if (found.length !== 1) {
    throw new Error(`'${caller}' needs a model with exactly one ParameterGenerator layer, ` +
      `model '${model.name}' has ${found.length}`);
  }
  return found[0];
}
