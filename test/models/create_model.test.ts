// Options (defaults and errors) and what each architecture does with the click sequence.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { ParameterGenerator } from '../../src/layers/parameter_generator';
import type { ModelKind } from '../../src/models/common/options';
import {
  createModel, type CreateModelOptions, type ResolvedConfig, resolveModelOptions,
} from '../../src/models/create_model';
import { din } from '../../src/models/din/din';
import { gru4rec } from '../../src/models/gru4rec/gru4rec';
import { sasrec } from '../../src/models/sasrec/sasrec';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { batch, CLICKS, tinyOptions } from './helpers';

const GENERATOR_DEFAULTS = {
  condition: 'history', embeddingDim: 32, encoder: 'gru', conditionDim: 32, decoder: 'full', rank: 8,
  lowrankCore: 'diag', init: 'zero', stableWeights: false, normalizeCondition: false, conditionDropout: 0,
  detachCondition: false, seed: null,
};
const COMMON_DEFAULTS = {
  variant: 'base', numItems: 10, clickLength: 30, dim: 32, seed: null, sequenceTransform: true,
  itemBias: false, residual: true, generator: GENERATOR_DEFAULTS,
};

describe('resolveModelOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveModelOptions({ model: 'sasrec', numItems: 10 })).toEqual({
      ...COMMON_DEFAULTS, model: 'sasrec', dynamicLayers: ['userTower1', 'userTower2'],
      towerLayers: 2, towerActivation: 'tanh', userAdapter: false, numHeads: 4, numBlocks: 1, ffnMultiplier: 4,
      norm: 'post', causal: true, dropout: 0, positionOrigin: 'start',
      scaleEmbeddings: false,
    });
    expect(resolveModelOptions({ model: 'gru4rec', numItems: 10, dim: 16 })).toEqual({
      ...COMMON_DEFAULTS, model: 'gru4rec', dim: 16, dynamicLayers: ['userTower1', 'userTower2'],
      towerLayers: 2, towerActivation: 'tanh', userAdapter: false, gruUnits: 16, dropout: 0,
      generator: { ...GENERATOR_DEFAULTS, embeddingDim: 16, conditionDim: 16 },
    });
    expect(resolveModelOptions({ model: 'din', numItems: 10, seed: 3 })).toEqual({
      ...COMMON_DEFAULTS, model: 'din', seed: 3, dynamicLayers: ['mlp1', 'mlp2'],
      mlpUnits: [128, 64], mlpActivation: 'tanh', dropout: 0, attentionUnits: [36],
      attentionActivation: 'sigmoid', attentionNormalize: 'softmax', targetTransform: true,
      productFeature: true,
      generator: { ...GENERATOR_DEFAULTS, decoder: 'lowrank', conditionDropout: 0.5, detachCondition: true, seed: 3 },
    });
  });

  it("detaches DIN's history by default, and never an 'ids' generator's", () => {
    expect(resolveModelOptions({ model: 'din', numItems: 10, generator: { condition: 'ids' } }).generator)
      .toMatchObject({ condition: 'ids', detachCondition: false, conditionDropout: 0.5 });
    expect(resolveModelOptions({ model: 'din', numItems: 10, sequenceTransform: false }).generator)
      .toMatchObject({ condition: 'ids', detachCondition: false });
    expect(resolveModelOptions({ model: 'din', numItems: 10, generator: { detachCondition: false } }).generator.detachCondition)
      .toBe(false);
    expect(resolveModelOptions({ model: 'gru4rec', numItems: 10, generator: { detachCondition: true } }).generator.detachCondition)
      .toBe(true);
    // The DUET model's generator layer gets the option.
    const { model } = createModel({ model: 'din', numItems: 10, variant: 'duet', seed: 1 });
    const generator = model.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(generator.options).toMatchObject({ input: 'embeddings', detachCondition: true, conditionDropout: 0.5 });
  });

  it('names the option and the factory in every error', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ model: 'bert', numItems: 5 }, "'model' passed to 'createModel' must be one of 'sasrec', 'gru4rec', 'din', got \"bert\""],
      [{ model: 'sasrec' }, "'numItems' passed to 'sasrec' is required"],
      [{ model: 'sasrec', numItems: 0 }, "'numItems' passed to 'sasrec' must be a positive integer, got 0"],
      [{ model: 'gru4rec', numItems: 5, clickLength: 2.5 }, "'clickLength' passed to 'gru4rec' must be a positive integer, got 2.5"],
      [{ model: 'din', numItems: 5, dim: -1 }, "'dim' passed to 'din' must be a positive integer, got -1"],
      [{ model: 'din', numItems: 5, variant: 'big' }, "'variant' passed to 'din' must be one of 'base', 'duet', got 'big'"],
      [{ model: 'sasrec', numItems: 5, numHeads: 5 }, "'numHeads' passed to 'sasrec' must divide dim = 32, got 5"],
      [{ model: 'sasrec', numItems: 5, numHead: 2 }, "unknown option 'numHead' passed to 'sasrec'; known:"],
      [{ model: 'gru4rec', numItems: 5, mlpUnits: [4] }, "unknown option 'mlpUnits' passed to 'gru4rec'"],
      [{ model: 'sasrec', numItems: 5, norm: 'mid' }, "'norm' passed to 'sasrec' must be one of 'post', 'pre', got 'mid'"],
      [{ model: 'sasrec', numItems: 5, dropout: 1 }, "'dropout' passed to 'sasrec' must be a number in [0, 1), got 1"],
      [{ model: 'sasrec', numItems: 5, causal: 'yes' }, "'causal' passed to 'sasrec' must be true or false, got 'yes'"],
      [{ model: 'gru4rec', numItems: 5, towerActivation: 'softmax' }, "'towerActivation' passed to 'gru4rec' must be an activation dynamic layers support"],
      [{ model: 'din', numItems: 5, mlpUnits: [] }, "'mlpUnits' passed to 'din' must be a non-empty array of positive integers, got []"],
      [{ model: 'din', numItems: 5, attentionNormalize: 'l2' }, "'attentionNormalize' passed to 'din' must be one of 'softmax', 'none', got 'l2'"],
      [{ model: 'din', numItems: 5, dynamicLayers: [] }, "'dynamicLayers' passed to 'din' must be a non-empty array of layer names, got []"],
      [{ model: 'din', numItems: 5, seed: 1.5 }, "'seed' passed to 'din' must be an integer or null, got 1.5"],
      [{ model: 'din', numItems: 5, generator: { encoder: 'lstm' } }, "'generator.encoder' passed to 'din' must be one of 'gru', 'mean', 'attention', 'last', got 'lstm'"],
      [{ model: 'din', numItems: 5, generator: { vocabSize: 3 } }, "unknown option 'generator.vocabSize' passed to 'din'"],
      [{ model: 'din', numItems: 5, generator: { conditionDim: 1, normalizeCondition: true } }, "'generator.conditionDim' passed to 'din' must be at least 2 when normalizeCondition is on, got 1"],
      [{ model: 'din', numItems: 5, generator: { detachCondition: 1 } }, "'generator.detachCondition' passed to 'din' must be true or false, got 1"],
      [{ model: 'sasrec', numItems: 5, generator: { condition: 'ids', detachCondition: true } }, "'generator.detachCondition' passed to 'sasrec' must be false with condition 'ids', got true"],
      [{ model: 'din', numItems: 5, generator: 'gru' }, "'generator' passed to 'din' must be an object of generator options, got 'gru'"],
      [{ model: 'sasrec', numItems: 5, positionOrigin: 'left' }, "'positionOrigin' passed to 'sasrec' must be one of 'start', 'end', got 'left'"],
      [{ model: 'sasrec', numItems: 5, towerLayers: -1 }, "'towerLayers' passed to 'sasrec' must be an integer >= 0, got -1"],
      [{ model: 'sasrec', numItems: 5, towerLayers: 0, variant: 'duet' }, "'towerLayers' passed to 'sasrec' is 0, which leaves the DUET variant no user-tower layer to generate; set towerLayers >= 1 or name the layers in 'dynamicLayers'"],
      [{ model: 'gru4rec', numItems: 5, towerLayers: 0, gruUnits: 6 }, "'gruUnits' passed to 'gru4rec' must equal dim = 32 with towerLayers 0 (the GRU state is dotted with the item embedding), got 6"],
    ];
    for (const [options, message] of bad) {
      expect(() => createModel(options as unknown as CreateModelOptions), message).toThrow(message);
    }
    expect(() => sasrec({ model: 'din', numItems: 5 } as never))
      .toThrow("'model' passed to 'sasrec' must be 'sasrec' (or left out), got \"din\"");
    expect(() => gru4rec(null as never)).toThrow("'gru4rec' needs an options object with at least 'numItems'");
    expect(() => createModel({ model: 'sasrec', numItems: 5, variant: 'duet', dynamicLayers: ['nope'] }))
      .toThrow("'duetWrap': model 'sasrec' has no layer named 'nope'");
    expect(() => createModel({ model: 'gru4rec', numItems: 5, variant: 'duet', generator: { condition: 'positions' } }))
      .toThrow("'generator.condition' passed to 'gru4rec' is 'positions', which reads the output of the 'positionEmbedding' layer; the model has none (only SASRec has one; use 'history' or 'ids')");
  });

  it("a 'positions' generator reads SASRec's positionEmbedding output, with or without sequenceTransform", () => {
    for (const sequenceTransform of [false, true]) {
      const { model } = createModel({
        model: 'sasrec', numItems: 9, dim: 8, numHeads: 2, clickLength: 4, variant: 'duet', sequenceTransform,
        generator: { condition: 'positions' },
      });
      const generator = model.layers.find((l) => l.getClassName() === 'DuetParameterGenerator');
      const inbound = (generator as unknown as { inboundNodes: Array<{ inboundLayers: Array<{ name: string }> }> })
        .inboundNodes[0].inboundLayers.map((l) => l.name);
      expect(inbound[0]).toBe('positionEmbedding');
    }
  });
});

describe('per-architecture factories', () => {
  it('accept an architecture chosen at run time and a resolved config, as typed', () => {
    const kind: ModelKind = ['gru4rec', 'din'][1] as ModelKind;
    const { config } = createModel({ model: kind, numItems: 5, dim: 8, clickLength: 4 });
    const resolved: ResolvedConfig = config;
    expect(createModel(resolved).config).toEqual(config);
    expect(config.model).toBe('din');
  });

  it('build the same models as createModel', () => {
    const x = batch();
    const pairs = [
      [sasrec(tinyOptions('sasrec') as never), createModel(tinyOptions('sasrec'))],
      [gru4rec(tinyOptions('gru4rec') as never), createModel(tinyOptions('gru4rec'))],
      [din(tinyOptions('din') as never), createModel(tinyOptions('din'))],
    ] as const;
    for (const [a, b] of pairs) {
      expect(a.config).toEqual(b.config);
      expect(maxAbsDiff(a.model.predict(x) as tf.Tensor, b.model.predict(x) as tf.Tensor)).toBe(0);
    }
  });

  it('follow the structural options', () => {
    const names = (options: CreateModelOptions) => createModel(options).model.layers.map((l) => l.name);
    expect(names(tinyOptions('gru4rec', { sequenceTransform: false }))).not.toContain('sequenceTransform');
    const three = createModel(tinyOptions('sasrec', { towerLayers: 3, numBlocks: 2, variant: 'duet' }));
    expect(three.config.dynamicLayers).toEqual(['userTower1', 'userTower2', 'userTower3']);
    expect(three.model.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['targetTower3', 'transformer2']));
    expect(names(tinyOptions('sasrec', { norm: 'pre' }))).toContain('finalNorm');
    const plain = createModel(tinyOptions('din', { productFeature: false, targetTransform: false }));
    expect(plain.model.getLayer('mlp1').getWeights()[0].shape).toEqual([2 * 8, 16]);
    expect(plain.model.layers.map((l) => l.name)).not.toContain('targetTransform');
    expect(createModel(tinyOptions('din')).model.getLayer('mlp1').getWeights()[0].shape).toEqual([3 * 8, 16]);
    expect(createModel(tinyOptions('gru4rec', { gruUnits: 6 })).model.getLayer('userTower1').getWeights()[0].shape).toEqual([6, 8]);
  });

  it('towerLayers 0: the score is the dot of the encoder state and the item embedding (base only)', async () => {
    for (const kind of ['sasrec', 'gru4rec'] as const) {
      const { model, config } = createModel(tinyOptions(kind, { towerLayers: 0 }));
      expect(config.dynamicLayers).toEqual([]);
      const names = model.layers.map((l) => l.name);
      expect(names.some((n) => n.startsWith('userTower') || n.startsWith('targetTower')), kind).toBe(false);
      const x = batch();
      const inner = tfl.model({
        inputs: model.inputs,
        outputs: [model.getLayer(kind === 'sasrec' ? 'userState' : 'gru').output as tfl.SymbolicTensor,
          model.getLayer('targetEmbedding').output as tfl.SymbolicTensor],
      });
      const [user, item] = inner.predict(x) as tf.Tensor[];
      expect(maxAbsDiff(model.predict(x) as tf.Tensor, tf.sum(tf.mul(user, item), 1, true)), kind).toBeLessThan(1e-6);
      const loaded = await roundTrip(model);
      expect(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor), kind).toBe(0);
      expect(createModel(config).config).toEqual(config);
    }
    // A DUET variant may still generate a named layer.
    const duet = createModel(tinyOptions('sasrec', { towerLayers: 0, variant: 'duet', sequenceTransform: true, dynamicLayers: ['sequenceTransform'], generator: { condition: 'ids' } }));
    expect(duet.model.layers.some((l) => l instanceof ParameterGenerator)).toBe(true);
  });

  it('apply dropout only in training', () => {
    for (const kind of ['sasrec', 'gru4rec', 'din'] as const) {
      const { model } = createModel(tinyOptions(kind, { dropout: 0.5 }));
      expect(model.layers.some((l) => l.getClassName() === 'Dropout')).toBe(true);
      const x = batch();
      expect(maxAbsDiff(model.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBe(0);
      const trained = (model as unknown as { apply(x: tf.Tensor[], k: object): tf.Tensor }).apply(x, { training: true });
      expect(maxAbsDiff(model.predict(x) as tf.Tensor, trained), kind).toBeGreaterThan(0);
    }
  });
});

describe('reading the click sequence', () => {
  const samePadded = (kind: 'gru4rec' | 'din') => {
    const { model } = createModel(tinyOptions(kind));
    const target = tf.tensor2d([[4], [4]]);
    const clicks = tf.tensor2d([[2, 9, 4, 0, 0], [0, 0, 2, 9, 4]]);
    const y = (model.predict([target, clicks]) as tf.Tensor).dataSync();
    return [y[0], y[1]];
  };

  it('GRU4Rec and DIN score a left-padded history like the right-padded one', () => {
    for (const kind of ['gru4rec', 'din'] as const) {
      const [right, left] = samePadded(kind);
      expect(Math.abs(right - left), kind).toBeLessThan(1e-6);
    }
  });

  it('SASRec takes the user state at the last valid position, padded on either side', () => {
    const { model } = createModel(tinyOptions('sasrec'));
    const inner = tfl.model({
      inputs: model.inputs,
      outputs: [model.getLayer('transformer1').output as tfl.SymbolicTensor,
        model.getLayer('userState').output as tfl.SymbolicTensor],
    });
    const clicks = tf.tensor2d([[3, 1, 4, 0, 0], [0, 0, 3, 1, 4], [5, 0, 0, 0, 0]]);
    const [seq, state] = inner.predict([tf.tensor2d([[1], [1], [1]]), clicks]) as tf.Tensor[];
    const last = [2, 4, 0];
    const expected = tf.stack(last.map((t, b) => tf.reshape(tf.slice(seq, [b, t, 0], [1, 1, 8]), [8])));
    expect(maxAbsDiff(state, expected)).toBe(0);
    expect(maxAbsDiff(tf.slice(state, [0, 0], [1, 8]), tf.slice(state, [1, 0], [1, 8]))).toBeGreaterThan(0);
  });

  it('SASRec: the causal mask cannot change one block\'s score, but does with two', () => {
    const x = batch();
    const score = (causal: boolean, numBlocks: number) =>
      createModel(tinyOptions('sasrec', { causal, numBlocks })).model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(score(true, 1), score(false, 1))).toBeLessThan(1e-6);
    expect(maxAbsDiff(score(true, 2), score(false, 2))).toBeGreaterThan(1e-6);
  });

  it('SASRec: trailing padding is invisible (same score as the unpadded sequence)', () => {
    const long = createModel(tinyOptions('sasrec', { causal: false })).model;
    const short = createModel(tinyOptions('sasrec', { causal: false, clickLength: 3 })).model;
    for (const layer of short.layers) {
      const weights = long.getLayer(layer.name).getWeights();
      layer.setWeights(layer.name === 'positionEmbedding' ?
        [tf.slice(weights[0], [0, 0], [3, -1])] : weights);
    }
    const target = tf.tensor2d([[2], [6]]);
    const padded = long.predict([target, tf.tensor2d([[3, 1, 4, 0, 0], [5, 9, 0, 0, 0]])]) as tf.Tensor;
    const unpadded = short.predict([target, tf.tensor2d([[3, 1, 4], [5, 9, 0]])]) as tf.Tensor;
    expect(maxAbsDiff(padded, unpadded)).toBeLessThan(1e-6);
  });

  it("SASRec positionOrigin 'end': the newest item always at the last position, on either padding", async () => {
    const clicks = tf.tensor2d([[3, 1, 4, 0, 0], [0, 0, 3, 1, 4]]);
    const target = tf.tensor2d([[2], [2]]);
    const { model, config } = createModel(tinyOptions('sasrec', { positionOrigin: 'end', numBlocks: 2 }));
    expect((config as { positionOrigin?: string }).positionOrigin).toBe('end');
    const y = (model.predict([target, clicks]) as tf.Tensor).dataSync();
    expect(Math.abs(y[0] - y[1])).toBeLessThan(1e-6);
    // With 'start' the same two rows differ (their items sit at different positions).
    const start = createModel(tinyOptions('sasrec', { numBlocks: 2 })).model;
    const z = (start.predict([target, clicks]) as tf.Tensor).dataSync();
    expect(Math.abs(z[0] - z[1])).toBeGreaterThan(1e-6);
    // The position table rows used: the newest item gets row clickLength - 1.
    const table = model.getLayer('positionEmbedding').getWeights()[0];
    const inner = tfl.model({ inputs: model.inputs, outputs: model.getLayer('positionEmbedding').output as tfl.SymbolicTensor });
    const embedded = inner.predict([target, clicks]) as tf.Tensor;
    const items = model.getLayer('itemEmbedding').getWeights()[0];
    const expected = tf.add(tf.gather(items, tf.tensor1d([3, 1, 4], 'int32')), tf.slice(table, [2, 0], [3, -1]));
    expect(maxAbsDiff(tf.reshape(tf.slice(embedded, [0, 0, 0], [1, 3, -1]), [3, 8]), expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(tf.reshape(tf.slice(embedded, [1, 2, 0], [1, 3, -1]), [3, 8]), expected)).toBeLessThan(1e-6);
    const loaded = await roundTrip(model);
    expect(maxAbsDiff(model.predict([target, clicks]) as tf.Tensor, loaded.predict([target, clicks]) as tf.Tensor)).toBe(0);
  });

  it('SASRec scaleEmbeddings multiplies the click embeddings by √dim, not the target side', async () => {
    const x = batch();
    const plain = createModel(tinyOptions('sasrec')).model;
    const { model, config } = createModel(tinyOptions('sasrec', { scaleEmbeddings: true }));
    expect((config as { scaleEmbeddings?: boolean }).scaleEmbeddings).toBe(true);
    const out = (m: tfl.LayersModel, layer: string) =>
      tfl.model({ inputs: m.inputs, outputs: m.getLayer(layer).output as tfl.SymbolicTensor }).predict(x) as tf.Tensor;
    const table = model.getLayer('positionEmbedding').getWeights()[0];
    const clicks = tf.tensor2d(CLICKS, undefined, 'int32');
    const mask = tf.expandDims(tf.cast(tf.greater(clicks, 0), 'float32'), 2);
    const expected = tf.mul(tf.add(tf.mul(tf.gather(model.getLayer('itemEmbedding').getWeights()[0], clicks), Math.sqrt(8)),
      tf.expandDims(table, 0)), mask);
    expect(maxAbsDiff(out(model, 'positionEmbedding'), expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out(model, 'targetEmbedding'), out(plain, 'targetEmbedding'))).toBe(0);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, plain.predict(x) as tf.Tensor)).toBeGreaterThan(0);
    const loaded = await roundTrip(model);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor)).toBe(0);
  });

  it('the padding row of the item embedding never matters', () => {
    // Change the padding row (id 0) of the item embedding: no score may move.
    for (const kind of ['sasrec', 'gru4rec', 'din'] as const) {
      const { model } = createModel(tinyOptions(kind));
      const x = batch();
      const before = model.predict(x) as tf.Tensor;
      const emb = model.getLayer('itemEmbedding');
      const table = emb.getWeights()[0];
      const moved = tf.concat([tf.fill([1, 8], 3), tf.slice(table, [1, 0], [-1, -1])], 0);
      emb.setWeights([moved]);
      expect(maxAbsDiff(before, model.predict(x) as tf.Tensor), kind).toBeLessThan(1e-6);
    }
  });
});
