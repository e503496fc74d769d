/**
 * Turning a built reference model into its DUET variant through the public `duetWrap`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { ParameterGenerator } from '../../layers/parameter_generator';
import { duetWrap } from '../../wrap/duet_wrap';
import { CLICK_INPUT, TARGET_INPUT } from './blocks';
import type { CommonConfig } from './options';

/** The layer whose output a generator reads, by `generator.condition` (`'ids'` reads the click input). */
const CONDITION_LAYERS = { history: 'sequenceTransform', positions: 'positionEmbedding' } as const;

/** Throws unless `base` looks like a base model built from `config`. */
function checkBase(base: tfl.LayersModel, config: CommonConfig, caller: string): void {
  if (!(base instanceof tfl.LayersModel)) {
    throw new Error(`'baseModel' passed to '${caller}' must be a tfjs-layers LayersModel, got ` +
      `${base === null ? 'null' : typeof base}`);
  }
  const names = base.inputs.map((t) => t.sourceLayer.name);
  if (names.length !== 2 || names[0] !== TARGET_INPUT || names[1] !== CLICK_INPUT) {
    throw new Error(`'baseModel' passed to '${caller}' must have inputs ['${TARGET_INPUT}', ` +
      `'${CLICK_INPUT}'], got [${names.map((n) => `'${n}'`).join(', ')}]`);
  }
  const clickLength = base.inputs[1].shape[1];
  if (clickLength !== config.clickLength) {
    throw new Error(`'baseModel' passed to '${caller}' has a click input of length ` +
      `${String(clickLength)}, but the config says clickLength = ${config.clickLength}`);
  }
  if (base.layers.some((l) => l instanceof ParameterGenerator)) {
    throw new Error(`'baseModel' passed to '${caller}' is already a DUET model (it has a ` +
      `ParameterGenerator); pass the base model`);
  }
  const embedding = base.layers.find((l) => l.name === 'itemEmbedding');
  const shape = embedding?.getWeights()[0]?.shape;
  if (shape === undefined || shape[0] !== config.numItems + 1 || shape[1] !== config.dim) {
    throw new Error(`'baseModel' passed to '${caller}' must have an 'itemEmbedding' of shape ` +
      `[${config.numItems + 1}, ${config.dim}] (numItems + 1, dim) as the config says, got ` +
      `${shape === undefined ? 'none' : `[${shape.join(', ')}]`}`);
  }
}

/**
 * The DUET variant of a base reference model: `config.dynamicLayers` become `DynamicDense`
 * layers generated from the `click` input by one `ParameterGenerator` (`duetWrap` with
 * `condition: { input: 'click' }`, or with `generator.condition: 'history'` the output of
 * `sequenceTransform`, with `'positions'` that of `positionEmbedding`, masked by `click`). The base model is left untouched; with the default
 * generator `init: 'zero'` the result starts out predicting exactly like it.
 */
export function wrapBase(base: tfl.LayersModel, config: CommonConfig, caller: string):
    tfl.LayersModel {
  checkBase(base, config, caller);
  const g = config.generator;
  const layer = g.condition === 'ids' ? null : CONDITION_LAYERS[g.condition];
  if (layer !== null && !base.layers.some((l) => l.name === layer)) {
    throw new Error(`'generator.condition' passed to '${caller}' is '${g.condition}', which reads ` +
      `the output of the '${layer}' layer; the model has none (` +
      (g.condition === 'history' ? 'set sequenceTransform: true' : "only SASRec has one; use 'history' or 'ids'") + ')');
  }
  return duetWrap(base, {
    condition: layer !== null ? { layer, mask: CLICK_INPUT } : { input: CLICK_INPUT },
    layers: config.dynamicLayers,
    residual: config.residual,
    generator: {
      vocabSize: config.numItems + 1,
      embeddingDim: g.embeddingDim,
      encoder: g.encoder,
      conditionDim: g.conditionDim,
      decoder: g.decoder,
      rank: g.rank,
      lowrankCore: g.lowrankCore,
      init: g.init,
      stableWeights: g.stableWeights,
      normalizeCondition: g.normalizeCondition,
      conditionDropout: g.conditionDropout,
      detachCondition: g.detachCondition,
      seed: g.seed ?? undefined,
    },
    name: `${config.model}_duet`,
  });
}

/**
 * Builds the model a factory returns for `config.variant`: the base itself, or its DUET variant
 * (the intermediate base is then freed). Runs inside `tf.tidy`, so no temporary tensor of any
 * layer's build outlives the call: every tensor left is a weight of the returned model.
 */
export function modelForVariant(buildBase: () => tfl.LayersModel, config: CommonConfig,
    caller: string): tfl.LayersModel {
  let model: tfl.LayersModel | null = null;
  tf.tidy(() => {
    const base = buildBase();
    if (config.variant === 'base') {
      model = base;
      return;
    }
    model = wrapBase(base, config, caller);
    // duetWrap copied every weight. Not base.dispose(): a layer called twice (the shared item
    // embedding) counts two references in tfjs-layers, so it would keep its weights.
    for (const weight of base.weights) weight.dispose();
  });
  return model as unknown as tfl.LayersModel;
}
