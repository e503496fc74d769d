import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { DynamicDense } from '../../src/layers/dynamic_dense';
import { ParameterGenerator } from '../../src/layers/parameter_generator';
import { duetWrap } from '../../src/wrap/duet_wrap';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';

function functionalModel() {
  const features = tfl.input({ shape: [6], name: 'features' });
  const history = tfl.input({ shape: [5], name: 'history' });
  const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(features);
  const h2 = tfl.layers.dense({ units: 4, activation: 'tanh', name: 'tower' }).apply(h);
  const out = tfl.layers.dense({ units: 1, activation: 'sigmoid', name: 'out' }).apply(h2) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [features, history], outputs: out, name: 'ranker' });
}

function sequentialModel() {
  return tfl.sequential({
    name: 'seq',
    layers: [
      tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [6], name: 'd1' }),
      tfl.layers.dropout({ rate: 0.1, name: 'drop' }),
      tfl.layers.dense({ units: 4, activation: 'tanh', name: 'd2' }),
      tfl.layers.dense({ units: 1, name: 'd3' }),
    ],
  });
}

const X = tf.randomNormal([4, 6], 0, 1, 'float32', 11);
const IDS = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 10], [0, 0, 0, 0, 0]]);

describe('duetWrap', () => {
  it('wraps a functional model: the last two Dense layers become dynamic, predictions start equal', () => {
    const model = functionalModel();
    const duet = duetWrap(model, { condition: { input: 'history' }, generator: { vocabSize: 20, embeddingDim: 8 } });
    const kinds = Object.fromEntries(duet.layers.map((l) => [l.name, l.getClassName()]));
    expect(kinds).toMatchObject({ hidden: 'Dense', tower: 'DuetDynamicDense', out: 'DuetDynamicDense', duetGenerator: 'DuetParameterGenerator' });
    expect(duet.inputs.map((t) => t.sourceLayer.name)).toEqual(['features', 'history']);
    const before = model.predict([X, IDS]) as tf.Tensor;
    expect(maxAbsDiff(before, duet.predict([X, IDS]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('wraps a sequential model with a new condition input and chosen layers', () => {
    const model = sequentialModel();
    const duet = duetWrap(model, { condition: { length: 5, name: 'clicks' }, layers: ['d1', 'd3'], generator: { vocabSize: 20, encoder: 'mean' } });
    expect(duet.inputs.map((t) => t.sourceLayer.name)).toEqual(['d1_input', 'clicks']);
    const dynamic = duet.layers.filter((l) => l instanceof DynamicDense).map((l) => l.name);
    expect(dynamic).toEqual(['d1', 'd3']);
    expect(maxAbsDiff(model.predict(X) as tf.Tensor, duet.predict([X, IDS]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('non-residual mode puts the original weights into the generator and still starts equal', () => {
    const model = functionalModel();
    const duet = duetWrap(model, { condition: { input: 'history' }, residual: false, generator: { vocabSize: 20, decoder: 'lowrank', rank: 2 } });
    const dynamic = duet.layers.filter((l) => l instanceof DynamicDense) as DynamicDense[];
    expect(dynamic.every((l) => l.trainableWeights.length === 0)).toBe(true);
    expect(maxAbsDiff(model.predict([X, IDS]) as tf.Tensor, duet.predict([X, IDS]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it("starts equal to the original even when 'init' is given as undefined", () => {
    const model = functionalModel();
    const duet = duetWrap(model, { condition: { input: 'history' }, generator: { vocabSize: 20, init: undefined } });
    expect(maxAbsDiff(model.predict([X, IDS]) as tf.Tensor, duet.predict([X, IDS]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it("names a new condition input 'trigger', the dataset column of recent items", () => {
    const duet = duetWrap(sequentialModel(), { condition: { length: 5 }, generator: { vocabSize: 20 } });
    expect(duet.inputs.map((t) => t.sourceLayer.name)).toEqual(['d1_input', 'trigger']);
  });

  it('leaves the original model untouched when the wrapped one trains', async () => {
    const model = functionalModel();
    const original = model.getWeights().map((w) => w.clone());
    const duet = duetWrap(model, { condition: { input: 'history' }, generator: { vocabSize: 20, init: 'glorot' } });
    duet.compile({ optimizer: tf.train.adam(0.05), loss: 'binaryCrossentropy' });
    await duet.fit([X, IDS], tf.tensor2d([[1], [0], [1], [0]]), { epochs: 2, verbose: 0 });
    model.getWeights().forEach((w, i) => expect(maxAbsDiff(w, original[i])).toBe(0));
    const gen = duet.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(gen.trainableWeights.length).toBeGreaterThan(0);
  });

  it("reads an existing layer's embeddings when the condition is a layer", async () => {
    const history = tfl.input({ shape: [5], name: 'history' });
    const features = tfl.input({ shape: [3], name: 'features' });
    const emb = tfl.layers.embedding({ inputDim: 20, outputDim: 4, name: 'emb' }).apply(history) as tfl.SymbolicTensor;
    const joined = tfl.layers.concatenate().apply([tfl.layers.flatten().apply(emb) as tfl.SymbolicTensor, features]);
    const out = tfl.layers.dense({ units: 1, name: 'out' }).apply(joined) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [history, features], outputs: out });
    const duet = duetWrap(model, { condition: { layer: 'emb', mask: 'history' }, generator: { encoder: 'mean', init: 'glorot' } });
    const gen = duet.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(gen.options.input).toBe('embeddings');
    expect(duet.inputs.map((t) => t.sourceLayer.name)).toEqual(['history', 'features']);
    const h = tf.tensor2d([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]]);
    const f = tf.ones([2, 3]);
    // Padding must not matter to the generator: the mask comes from 'history'.
    expect(maxAbsDiff(duet.predict([h, f]) as tf.Tensor, (await roundTrip(duet)).predict([h, f]) as tf.Tensor)).toBeLessThan(1e-6);
    const { generator, device } = splitDuet(duet);
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['history']);
    const split = device.predict([h, f, generator.predict(h) as tf.Tensor]) as tf.Tensor;
    expect(maxAbsDiff(split, duet.predict([h, f]) as tf.Tensor)).toBeLessThan(1e-5);
    // The mask comes from 'history': padding positions (whose embeddings are not zero) do not
    // reach the mean encoder, wherever the padding sits.
    const right = generator.predict(tf.tensor2d([[1, 2, 0, 0, 0]])) as tf.Tensor;
    const left = generator.predict(tf.tensor2d([[0, 0, 0, 2, 1]])) as tf.Tensor;
    expect(maxAbsDiff(right, left)).toBeLessThan(1e-6);
    expect(() => duetWrap(model, { condition: { layer: 'nope', mask: 'history' }, generator: {} }))
      .toThrow("'duetWrap': model 'model' has no layer named 'nope' (the condition layer)".replace("'model'", `'${model.name}'`));
    expect(() => duetWrap(model, { condition: { layer: 'out', mask: 'history' }, layers: ['out'], generator: {} }))
      .toThrow("'duetWrap': the condition layer 'out' must output [batch, time, dim], got [batch, 1]");
    expect(() => duetWrap(model, { condition: { layer: 'emb', mask: 'features2' }, generator: {} }))
      .toThrow("has no input named 'features2' (the condition mask)");
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const duet = duetWrap(functionalModel(), { condition: { input: 'history' }, generator: { vocabSize: 20, init: 'glorot', stableWeights: true } });
    const loaded = await roundTrip(duet);
    expect(maxAbsDiff(duet.predict([X, IDS]) as tf.Tensor, loaded.predict([X, IDS]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('names the layer and the reason for every unsupported request', () => {
    const model = functionalModel();
    const gen = { vocabSize: 20 };
    expect(() => duetWrap(model, { condition: { input: 'history' }, layers: ['nope'], generator: gen }))
      .toThrow("'duetWrap': model 'ranker' has no layer named 'nope'; its Dense layers are 'hidden', 'tower', 'out'");
    const seq = sequentialModel();
    expect(() => duetWrap(seq, { condition: { length: 3 }, layers: ['drop'], generator: gen }))
      .toThrow("'duetWrap': layer 'drop' is a Dropout, not a Dense layer; only Dense layers can be made dynamic");
    expect(() => duetWrap(model, { condition: { input: 'clicks' }, generator: gen }))
      .toThrow("'duetWrap': model 'ranker' has no input named 'clicks' (the condition); its inputs are 'features', 'history'");
    expect(() => duetWrap(model, { condition: { input: 'history' }, layers: ['out', 'out'], generator: gen }))
      .toThrow("layer 'out' is listed twice in 'duetWrap' layers");
    // A Dense layer called twice (shared).
    const a = tfl.input({ shape: [3] });
    const b = tfl.input({ shape: [3] });
    const shared = tfl.layers.dense({ units: 3, name: 'shared' });
    const sum = tfl.layers.add().apply([shared.apply(a) as tfl.SymbolicTensor, shared.apply(b) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
    const twoCalls = tfl.model({ inputs: [a, b], outputs: sum });
    expect(() => duetWrap(twoCalls, { condition: { length: 3 }, layers: ['shared'], generator: gen }))
      .toThrow("'duetWrap': layer 'shared' is shared (called 2 times in the model); a dynamic layer must be called exactly once");
    const softmax = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2], activation: 'softmax', name: 'sm' })] });
    expect(() => duetWrap(softmax, { condition: { length: 3 }, generator: gen }))
      .toThrow("'duetWrap': layer 'sm' uses activation 'softmax', which DynamicDense does not support");
    const seqInput = tfl.input({ shape: [4, 2], name: 'emb' });
    const flat = tfl.layers.flatten().apply(seqInput);
    const m3 = tfl.model({ inputs: seqInput, outputs: tfl.layers.dense({ units: 1 }).apply(flat) as tfl.SymbolicTensor });
    expect(() => duetWrap(m3, { condition: { input: 'emb' }, generator: gen }))
      .toThrow("'duetWrap': the condition input 'emb' must hold item ids of shape [batch, time], got [batch, 4, 2]");
    expect(() => duetWrap(model, { condition: { length: 3 }, generator: gen, residul: false } as never))
      .toThrow("unknown option 'residul' passed to 'duetWrap'; known: condition, layers, count, residual, generator, name");
    expect(() => duetWrap(model, { condition: { length: 0 }, generator: gen }))
      .toThrow("'condition.length' passed to 'duetWrap' must be a positive integer, got 0");
    expect(() => duetWrap({} as tfl.LayersModel, { condition: { length: 2 }, generator: gen }))
      .toThrow("'model' passed to 'duetWrap' must be a tfjs-layers LayersModel");
  });
});
