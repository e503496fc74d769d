/**
 * `splitDuet`: separates a DUET model into its cloud part (the generator) and its device part.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { isLayerClass } from '../layers/layer_class';
import { ParamSlice } from '../layers/param_layout';
import { ParameterGenerator } from '../layers/parameter_generator';
import { withDirectPredict } from './direct_forward';
import { applyLike, modelEnds, modelNodes, replay, subgraph } from './graph';

/** The two halves of a DUET model. */
export interface DuetParts {
  /** Cloud part: the conditioning input(s) → the flat parameter vector `[batch, total]`. */
  generator: tfl.LayersModel;
  /**
   * Device part: the original model's inputs (those it still needs) followed by the parameter
   * vector `[batch, total]` as the last input → the original outputs.
   */
  device: tfl.LayersModel;
  /** Where each dynamic layer's kernel and bias sit in the parameter vector. */
  layout: { slices: readonly ParamSlice[]; total: number };
}

/**
 * Name of the device model's parameter input (its last input).
 *
 * @example
 * ```ts
 * const { device } = splitDuet(duetModel);
 * device.inputNames.at(-1) === PARAMS_INPUT_NAME; // true
 * ```
 */
export const PARAMS_INPUT_NAME = 'duetParams';

/**
 * Splits a DUET model (from {@link duetWrap}, a reference DUET model, or any model with one
 * {@link ParameterGenerator}) into a generator model for the cloud and a device model that takes
 * the generated parameters as its last input. Both share the DUET model's layers and weights,
 * and each can be saved and loaded on its own.
 *
 * `device.predict([...inputs, generator.predict(condition)])` equals `duetModel.predict(...)`.
 * The generator's `predict` runs its layers directly on the tensors ({@link withDirectPredict}):
 * the values of tfjs-layers' `predict`, with less overhead per call.
 *
 * @example
 * ```ts
 * const { generator, device, layout } = splitDuet(duetModel);
 * const params = generator.predict(historyIds) as tf.Tensor;      // in the cloud
 * const scores = device.predict([features, params]) as tf.Tensor; // on the device
 * console.log(layout.total, 'parameters per user');
 * ```
 */
export function splitDuet(model: tfl.LayersModel): DuetParts {
  const nodes = modelNodes(model, 'splitDuet');
  const ends = modelEnds(model, 'splitDuet');
  const generatorNodes = nodes.filter((n) => isLayerClass(n.layer, ParameterGenerator));
  if (generatorNodes.length !== 1) {
    throw new Error(`'splitDuet' needs a model with exactly one ParameterGenerator call, ` +
      `model '${model.name}' has ${generatorNodes.length}`);
  }
  const genNode = generatorNodes[0];
  const genLayer = genNode.layer as ParameterGenerator;
  const params = genNode.outputs[0];
  const inputIds = new Set(ends.inputs.map((t) => t.id));
  const orderInputs = (ids: Set<number>) => ends.inputs.filter((t) => ids.has(t.id));

  // Cloud side: everything upstream of the generator's output.
  const cloud = subgraph(nodes, [params], inputIds);
  // The cloud's hot path: predict runs the layers directly (same values, less bookkeeping).
  const generator = withDirectPredict(tfl.model({
    inputs: orderInputs(cloud.reached),
    outputs: params,
    name: `${model.name}_generator`,
  }));

  // Device side: the outputs with the generator's output cut off and fed as an input instead.
  const paramsInput = tfl.input({ shape: [genLayer.totalParams], name: PARAMS_INPUT_NAME });
  const device = subgraph(nodes, ends.outputs, new Set([...inputIds, params.id]));
  const deviceInputs = orderInputs(device.reached);
  const known = new Map<number, tfl.SymbolicTensor>(deviceInputs.map((t) => [t.id, t]));
  known.set(params.id, paramsInput);
  replay(device.nodes, known, (node, inputs) => applyLike(node.layer, node, inputs));
  const deviceModel = tfl.model({
    inputs: [...deviceInputs, paramsInput],
    outputs: ends.outputs.map((t) => known.get(t.id) as tfl.SymbolicTensor),
    name: `${model.name}_device`,
  });
  return {
    generator,
    device: deviceModel,
    layout: { slices: genLayer.slices, total: genLayer.totalParams },
  };
}
