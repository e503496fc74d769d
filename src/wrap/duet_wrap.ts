/**
 * `duetWrap`: turns the chosen Dense layers of any tfjs-layers model into `DynamicDense` layers
 * fed by one `ParameterGenerator` reading a conditioning sequence.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { getActivation } from '../layers/activations';
import { DynamicDense } from '../layers/dynamic_dense';
import { isLayerClass } from '../layers/layer_class';
import { DynamicLayerSpec, paramLayout } from '../layers/param_layout';
import { ParameterGenerator, ParameterGeneratorArgs } from '../layers/parameter_generator';
import { SequenceMask } from '../layers/sequence_mask';
import {
  applyLike, cloneInput, cloneLayer, GraphNode, isInputLayer, modelEnds, modelNodes, replay,
  subgraph,
} from './graph';

/** Where the generator's conditioning sequence comes from. */
export type DuetCondition =
  /** An existing input of the model holding item ids `[batch, time]` (0 = padding). */
  | { input: string }
  /**
   * A new model input of item ids `[batch, length]`, named `name` (default `'trigger'`, the
   * dataset column holding the device's most recent items, so `train` and `evaluateModel` feed
   * it directly when `length` equals the data's trigger length).
   */
  | { length: number; name?: string }
  /**
   * The output `[batch, time, dim]` of an existing layer (e.g. the model's own embedded history,
   * as the authors' generator reads it), masked by the item ids of input `mask` (0 = padding).
   */
  | { layer: string; mask: string };

/** Options of {@link duetWrap}. */
export interface DuetWrapOptions {
  /**
   * Where the conditioning sequence comes from. Required: an existing ids input by name, or the
   * length of a new ids input (added as the model's last input).
   */
  condition: DuetCondition;
  /**
   * Names of the Dense layers to generate per sample. Default: the model's last `count`
   * Dense layers in topological order.
   */
  layers?: string[];
  /** How many trailing Dense layers to make dynamic when `layers` is not given. Default 2. */
  count?: number;
  /**
   * Residual dynamic layers: each keeps the original kernel as its static part and the generator
   * produces only a per-sample delta (a zero payload then means "the original model"). When
   * false, the original weights become the generator's shared part instead. Default true.
   */
  residual?: boolean;
  /**
   * Generator options (`layers` and `input` are filled in by `duetWrap`; `vocabSize` is required).
   * `init` defaults to `'zero'` here, so the wrapped model starts out predicting exactly like
   * the original one.
   */
  generator: Omit<ParameterGeneratorArgs, 'layers' | 'input'>;
  /** Name of the returned model. Default: the original name plus `'_duet'`. */
  name?: string;
}

/**
 * The generator layer's name inside a wrapped model.
 *
 * @example
 * ```ts
 * const generator = duetModel.getLayer(GENERATOR_NAME) as ParameterGenerator;
 * console.log(generator.totalParams);
 * ```
 */
export const GENERATOR_NAME = 'duetGenerator';

const DENSE = 'Dense';
const DUET_WRAP_KEYS = new Set(['condition', 'layers', 'count', 'residual', 'generator', 'name']);

function countCalls(nodes: GraphNode[], layer: tfl.layers.Layer): number {
  return nodes.filter((n) => n.layer === layer).length;
}

/** Picks the target Dense layers and checks each one can be made dynamic. */
function chooseTargets(model: tfl.LayersModel, nodes: GraphNode[], options: DuetWrapOptions):
    tfl.layers.Layer[] {
  const all = model.layers.filter((l) => !isInputLayer(l));
  const dense = all.filter((l) => l.getClassName() === DENSE);
  let names = options.layers;
  if (names === undefined) {
    const count = options.count ?? 2;
    if (!Number.isInteger(count) || count <= 0) {
      throw new Error(`'count' passed to 'duetWrap' must be a positive integer, got ${String(count)}`);
    }
    if (dense.length === 0) {
      throw new Error(`'duetWrap' found no Dense layer in model '${model.name}' to make dynamic`);
    }
    names = dense.slice(-count).map((l) => l.name);
  }
  if (!Array.isArray(names) || names.length === 0) {
    throw new Error(`'layers' passed to 'duetWrap' must be a non-empty array of layer names`);
  }
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new Error(`layer '${name}' is listed twice in 'duetWrap' layers`);
    seen.add(name);
    const layer = all.find((l) => l.name === name);
    if (layer === undefined) {
      throw new Error(`'duetWrap': model '${model.name}' has no layer named '${name}'; its Dense ` +
        `layers are ${dense.map((l) => `'${l.name}'`).join(', ') || '(none)'}`);
    }
    if (layer.getClassName() !== DENSE) {
      throw new Error(`'duetWrap': layer '${name}' is a ${layer.getClassName()}, not a Dense ` +
        `layer; only Dense layers can be made dynamic`);
    }
    const calls = countCalls(nodes, layer);
    if (calls !== 1) {
      throw new Error(`'duetWrap': layer '${name}' is shared (called ${calls} times in the ` +
        `model); a dynamic layer must be called exactly once`);
    }
    const activation = String(layer.getConfig().activation ?? 'linear');
    try {
      getActivation(activation, 'duetWrap');
    } catch {
      throw new Error(`'duetWrap': layer '${name}' uses activation '${activation}', which ` +
        `DynamicDense does not support`);
    }
    return layer;
  });
}

/**
 * Makes the chosen Dense layers of a model dynamic: their kernels and biases are generated per
 * sample by one {@link ParameterGenerator} from a conditioning sequence. Every other layer is
 * copied with its weights, so the original model is left untouched.
 *
 * With the defaults (residual layers, generator `init: 'zero'`) the wrapped model starts out
 * predicting exactly like the original one; training it then learns the per-user deltas.
 * Use {@link splitDuet} to separate the cloud (generator) and device parts.
 *
 * @example
 * ```ts
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { duetWrap } from 'duet-tf';
 *
 * const features = tfl.input({ shape: [16] });
 * const hidden = tfl.layers.dense({ units: 32, activation: 'relu', name: 'hidden' }).apply(features);
 * const out = tfl.layers.dense({ units: 1, activation: 'sigmoid', name: 'out' }).apply(hidden);
 * const model = tfl.model({ inputs: features, outputs: out as tfl.SymbolicTensor });
 *
 * const duet = duetWrap(model, {
 *   condition: { length: 20 },              // a new input: the user's last 20 item ids
 *   layers: ['hidden', 'out'],
 *   generator: { vocabSize: 10000, encoder: 'gru' },
 * });
 * duet.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
 * // duet.fit([featuresBatch, historyIds], labels)
 * ```
 */
export function duetWrap(model: tfl.LayersModel, options: DuetWrapOptions): tfl.LayersModel {
  if (options === undefined || options === null || options.condition === undefined) {
    throw new Error(`'duetWrap' needs options with 'condition' (an existing ids input or the ` +
      `length of a new one) and 'generator' (at least vocabSize)`);
  }
  const unknown = Object.keys(options).filter((k) => !DUET_WRAP_KEYS.has(k));
  if (unknown.length > 0) {
    throw new Error(`unknown option '${unknown[0]}' passed to 'duetWrap'; known: ` +
      `${[...DUET_WRAP_KEYS].join(', ')}`);
  }
  if (options.generator === undefined) {
    throw new Error(`'generator' options passed to 'duetWrap' are required (at least vocabSize)`);
  }
  const nodes = modelNodes(model, 'duetWrap');
  const ends = modelEnds(model, 'duetWrap');
  const targets = chooseTargets(model, nodes, options);
  const residual = options.residual ?? true;

  // New inputs mirroring the old ones; the condition is an old input or a new one.
  const known = new Map<number, tfl.SymbolicTensor>();
  let pendingUpstream: GraphNode[] = [];
  const inputs = ends.inputs.map((t) => {
    const copy = cloneInput(t);
    known.set(t.id, copy);
    return copy;
  });
  const inputNames = () => ends.inputs.map((t) => `'${t.sourceLayer.name}'`).join(', ');
  const findInput = (name: string, role: string) => {
    const index = ends.inputs.findIndex((t) => t.sourceLayer.name === name || t.name === name);
    if (index < 0) {
      throw new Error(`'duetWrap': model '${model.name}' has no input named '${name}' (the ` +
        `${role}); its inputs are ${inputNames()}`);
    }
    const found = inputs[index];
    if (found.shape.length !== 2) {
      throw new Error(`'duetWrap': the ${role} input '${name}' must hold item ids of shape ` +
        `[batch, time], got [${found.shape.map((d) => d ?? 'batch').join(', ')}]`);
    }
    return found;
  };
  const cond = options.condition;
  let conditionInputs: tfl.SymbolicTensor[];
  let generatorInput: 'ids' | 'embeddings' = 'ids';
  if ('input' in cond) {
    conditionInputs = [findInput(cond.input, 'condition')];
  } else if ('layer' in cond) {
    generatorInput = 'embeddings';
    const node = nodes.filter((n) => n.layer.name === cond.layer);
    if (node.length !== 1) {
      throw new Error(node.length === 0 ?
        `'duetWrap': model '${model.name}' has no layer named '${cond.layer}' (the condition layer)` :
        `'duetWrap': the condition layer '${cond.layer}' is called ${node.length} times in the ` +
        `model; it must be called exactly once`);
    }
    const out = node[0].outputs[0];
    if (out.shape.length !== 3) {
      throw new Error(`'duetWrap': the condition layer '${cond.layer}' must output ` +
        `[batch, time, dim], got [${out.shape.map((d) => d ?? 'batch').join(', ')}]`);
    }
    const maskIds = findInput(cond.mask, 'condition mask');
    // Replay what the condition layer needs first, so the generator exists before any target.
    const upstream = subgraph(nodes, [out], new Set(ends.inputs.map((t) => t.id))).nodes;
    const bad = upstream.find((n) => targets.includes(n.layer));
    if (bad !== undefined) {
      throw new Error(`'duetWrap': the condition layer '${cond.layer}' depends on the dynamic ` +
        `layer '${bad.layer.name}'; the generator must not read its own output`);
    }
    pendingUpstream = upstream;
    conditionInputs = [out, maskIds];
  } else {
    if (!Number.isInteger(cond.length) || cond.length <= 0) {
      throw new Error(`'condition.length' passed to 'duetWrap' must be a positive integer, got ` +
        `${String(cond.length)}`);
    }
    const added = tfl.input({ shape: [cond.length], name: cond.name ?? 'trigger' });
    inputs.push(added);
    conditionInputs = [added];
  }

  const specs: DynamicLayerSpec[] = targets.map((layer) => {
    const config = layer.getConfig();
    const kernelShape = layer.getWeights()[0].shape;
    return {
      name: layer.name,
      inputDim: kernelShape[0],
      outputDim: Number(config.units),
      useBias: Boolean(config.useBias),
    };
  });
  const layout = paramLayout(specs, 'duetWrap');
  const generator = new ParameterGenerator({
    ...options.generator,
    // `?? 'zero'` after the spread: an explicit `init: undefined` must not become 'glorot'.
    init: options.generator.init ?? 'zero',
    layers: specs,
    input: generatorInput,
    name: GENERATOR_NAME,
  });

  const copies = new Map<tfl.layers.Layer, tfl.layers.Layer>();
  let params: tfl.SymbolicTensor | null = null;
  const call = (node: GraphNode, newInputs: tfl.SymbolicTensor[]) => {
    const targetIndex = targets.indexOf(node.layer);
    if (targetIndex >= 0) {
      const config = node.layer.getConfig();
      const dynamic = new DynamicDense({
        units: Number(config.units),
        activation: String(config.activation ?? 'linear'),
        useBias: Boolean(config.useBias),
        residual,
        paramOffset: layout.slices[targetIndex].offset,
        name: node.layer.name,
      });
      copies.set(node.layer, dynamic);
      return [dynamic.apply([newInputs[0], params as tfl.SymbolicTensor]) as tfl.SymbolicTensor];
    }
    let copy = copies.get(node.layer);
    if (copy === undefined) {
      copy = cloneLayer(node.layer);
      copies.set(node.layer, copy);
    }
    return applyLike(copy, node, newInputs);
  };
  replay(pendingUpstream, known, call);
  if (generatorInput === 'ids') {
    params = generator.apply(conditionInputs[0]) as tfl.SymbolicTensor;
  } else {
    const embeddings = known.get(conditionInputs[0].id) as tfl.SymbolicTensor;
    const mask = new SequenceMask({ name: 'duetConditionMask' }).apply(conditionInputs[1]);
    params = generator.apply([embeddings, mask as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
  }
  replay(nodes, known, call);

  const outputs = ends.outputs.map((t) => known.get(t.id) as tfl.SymbolicTensor);
  const wrapped = tfl.model({ inputs, outputs, name: options.name ?? `${model.name}_duet` });

  // Weights: copies get the originals'; targets' weights seed the static part.
  for (const [original, copy] of copies) {
    const weights = original.getWeights();
    if (isLayerClass(copy, DynamicDense)) {
      if (residual) copy.setWeights(weights);
      else generator.setStaticWeights(original.name, weights[0], weights[1]);
    } else {
      copy.setWeights(weights);
    }
  }
  return wrapped;
}
