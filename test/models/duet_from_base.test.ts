import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { ParameterGenerator } from '../../src/layers/parameter_generator';
import { createModel } from '../../src/models/create_model';
import { duetFromBase } from '../../src/models/duet_from_base';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { batch, compileForLogits, KINDS, syntheticRows, tinyOptions } from './helpers';

async function trainedBase(kind: (typeof KINDS)[number]) {
  const created = createModel(tinyOptions(kind));
  const { x, y } = syntheticRows(32, 5);
  compileForLogits(created.model);
  await created.model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  return created;
}

describe('duetFromBase', () => {
  it.each(KINDS)('%s: starts out predicting exactly like the trained base, generator trainable', async (kind) => {
    const { model: base, config } = await trainedBase(kind);
    const { model: duet, config: duetConfig } = duetFromBase(base, config);
    expect(duetConfig).toEqual({ ...config, variant: 'duet' });
    const x = batch();
    expect(maxAbsDiff(base.predict(x) as tf.Tensor, duet.predict(x) as tf.Tensor)).toBe(0);
    const generator = duet.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(generator.trainableWeights.length).toBeGreaterThan(0);
    const trainable = new Set(duet.trainableWeights.map((w) => w.name));
    for (const w of generator.trainableWeights) expect(trainable.has(w.name), w.name).toBe(true);
  });

  it('leaves the base untouched while the DUET model trains', async () => {
    const { model: base, config } = await trainedBase('gru4rec');
    const weights = base.getWeights().map((w) => w.clone());
    const { model: duet } = duetFromBase(base, config);
    const { x, y } = syntheticRows(32, 6);
    compileForLogits(duet);
    await duet.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    base.getWeights().forEach((w, i) => expect(maxAbsDiff(w, weights[i])).toBe(0));
    expect(maxAbsDiff(base.predict(batch()) as tf.Tensor, duet.predict(batch()) as tf.Tensor)).toBeGreaterThan(0);
  });

  it('takes DUET-side options: generated layers, generator, non-residual', () => {
    const { model: base, config } = createModel(tinyOptions('sasrec'));
    const { model: duet, config: c } = duetFromBase(base, {
      ...config, dynamicLayers: ['userTower2'], residual: false,
      generator: { encoder: 'mean', decoder: 'lowrank', rank: 2 },
    });
    expect(c.generator).toMatchObject({ encoder: 'mean', decoder: 'lowrank', rank: 2, embeddingDim: 8 });
    expect(splitDuet(duet).layout.slices.map((s) => s.name)).toEqual(['userTower2']);
    expect(duet.getLayer('userTower1').getClassName()).toBe('Dense');
    // Non-residual: the base weights become the generator's shared part; still equal at start.
    expect(maxAbsDiff(base.predict(batch()) as tf.Tensor, duet.predict(batch()) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it.each(KINDS)("%s: generator.condition 'history' reads the model's own embedded history", async (kind) => {
    const { model: base, config } = await trainedBase(kind);
    const { model: duet, config: c } = duetFromBase(base, { ...config, generator: { condition: 'history' } });
    expect(c.generator.condition).toBe('history');
    const x = batch();
    expect(maxAbsDiff(base.predict(x) as tf.Tensor, duet.predict(x) as tf.Tensor)).toBe(0);
    const { generator, device } = splitDuet(duet);
    // The generator has no item table of its own: it runs the shared embedding and sequenceTransform.
    const gen = generator.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(gen.options.input).toBe('embeddings');
    expect(generator.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['itemEmbedding', 'sequenceTransform']));
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['click']);
    // It conditions on the history: different clicks, different parameters (once trained off zero).
    const { x: tx, y: ty } = syntheticRows(32, 8);
    compileForLogits(duet);
    await duet.fit(tx, ty, { epochs: 2, batchSize: 16, verbose: 0 });
    const params = generator.predict(x[1]) as tf.Tensor;
    expect(maxAbsDiff(tf.slice(params, [0, 0], [1, -1]), tf.slice(params, [1, 0], [1, -1]))).toBeGreaterThan(0);
    const split = device.predict([...x, params]) as tf.Tensor;
    expect(maxAbsDiff(split, duet.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
    expect(() => duetFromBase(createModel(tinyOptions(kind, { sequenceTransform: false })).model,
      { ...config, sequenceTransform: false, generator: { condition: 'history' } }))
      .toThrow("'generator.condition' passed to 'duetFromBase' is 'history', which reads the output of the 'sequenceTransform' layer; the model has none (set sequenceTransform: true)");
  });

  it('rejects a base model that does not match the config', () => {
    const { model: base, config } = createModel(tinyOptions('sasrec'));
    expect(() => duetFromBase(base, { ...config, numItems: 99 }))
      .toThrow("'baseModel' passed to 'duetFromBase' must have an 'itemEmbedding' of shape [100, 8] (numItems + 1, dim) as the config says, got [13, 8]");
    expect(() => duetFromBase(base, { ...config, clickLength: 9 }))
      .toThrow("'baseModel' passed to 'duetFromBase' has a click input of length 5, but the config says clickLength = 9");
    const { model: duet } = duetFromBase(base, config);
    expect(() => duetFromBase(duet, config))
      .toThrow("'baseModel' passed to 'duetFromBase' is already a DUET model (it has a ParameterGenerator); pass the base model");
    const { model: dinBase } = createModel(tinyOptions('din'));
    expect(() => duetFromBase(dinBase, config))
      .toThrow("'duetWrap': model 'din' has no layer named 'userTower1'");
    const x = tfl.input({ shape: [3], name: 'x' });
    const other = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 1 }).apply(x) as tfl.SymbolicTensor });
    expect(() => duetFromBase(other, config))
      .toThrow("'baseModel' passed to 'duetFromBase' must have inputs ['target', 'click'], got ['x']");
    expect(() => duetFromBase(null as unknown as tfl.LayersModel, config))
      .toThrow("'baseModel' passed to 'duetFromBase' must be a tfjs-layers LayersModel, got null");
    expect(() => duetFromBase(base, { ...config, model: undefined } as never))
      .toThrow("'model' passed to 'duetFromBase' must be one of 'sasrec', 'gru4rec', 'din', got undefined");
  });

  it.each(['sasrec', 'gru4rec'] as const)('%s: gives a base without towers an identity userAdapter, then starts exactly as it', async (kind) => {
    const bare = createModel(tinyOptions(kind, { towerLayers: 0 }));
    expect(bare.config.dynamicLayers).toEqual([]);
    const { x, y } = syntheticRows(32, 5);
    compileForLogits(bare.model);
    await bare.model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    const { model: duet, config: c } = duetFromBase(bare.model, { ...bare.config, userAdapter: true } as never);
    expect(c).toMatchObject({ variant: 'duet', towerLayers: 0, userAdapter: true, dynamicLayers: ['userAdapter'] });
    expect(splitDuet(duet).layout.slices.map((s) => s.name)).toEqual(['userAdapter']);
    const input = batch();
    expect(maxAbsDiff(bare.model.predict(input) as tf.Tensor, duet.predict(input) as tf.Tensor)).toBe(0);
    // It is a layer of its own: the base kept none, and its static kernel is the identity.
    expect(bare.model.layers.some((l) => l.name === 'userAdapter')).toBe(false);
    const kernel = duet.getLayer('userAdapter').getWeights()[0];
    expect(maxAbsDiff(kernel, tf.eye(8))).toBe(0);
    // Trained, it moves off the base, and survives save and load.
    compileForLogits(duet);
    await duet.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    expect(maxAbsDiff(bare.model.predict(input) as tf.Tensor, duet.predict(input) as tf.Tensor)).toBeGreaterThan(0);
    const loaded = await roundTrip(duet);
    expect(maxAbsDiff(loaded.predict(input) as tf.Tensor, duet.predict(input) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('a base built with userAdapter predicts as one without it at the same seed (it starts as the identity)', () => {
    const without = createModel(tinyOptions('sasrec', { towerLayers: 0 })).model;
    const withAdapter = createModel(tinyOptions('sasrec', { towerLayers: 0, userAdapter: true })).model;
    expect(withAdapter.getLayer('userAdapter').getClassName()).toBe('Dense');
    expect(maxAbsDiff(without.predict(batch()) as tf.Tensor, withAdapter.predict(batch()) as tf.Tensor)).toBe(0);
  });

  it('freezeStatic: only the generator trains; every other weight stays the base\'s', async () => {
    const { model: base, config } = await trainedBase('gru4rec');
    const { model: duet } = duetFromBase(base, config, { freezeStatic: true });
    const generator = duet.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(duet.trainableWeights.map((w) => w.name).sort()).toEqual(generator.trainableWeights.map((w) => w.name).sort());
    const before = new Map(duet.weights.map((w) => [w.name, w.read().clone()]));
    const { x, y } = syntheticRows(32, 6);
    compileForLogits(duet);
    await duet.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    const generated = new Set(generator.weights.map((w) => w.name));
    let moved = 0;
    for (const w of duet.weights) {
      const d = maxAbsDiff(w.read(), before.get(w.name) as tf.Tensor);
      if (generated.has(w.name)) moved += d > 0 ? 1 : 0;
      else expect(d, w.name).toBe(0);
    }
    expect(moved).toBeGreaterThan(0);
    expect(() => duetFromBase(base, config, { freeze: true } as never))
      .toThrow("unknown option 'freeze' passed to 'duetFromBase'; known: freezeStatic");
  });

  it('refuses to add userAdapter to a base of another architecture, naming the layer', () => {
    const { model: base, config } = createModel(tinyOptions('sasrec', { towerLayers: 0 }));
    expect(() => duetFromBase(base, { ...config, userAdapter: true, numBlocks: 2 } as never))
      .toThrow("'baseModel' passed to 'duetFromBase' does not match the config's architecture: it has no layer 'transformer2'");
    expect(() => duetFromBase(base, { ...config, userAdapter: true, towerLayers: 1 } as never))
      .toThrow("'baseModel' passed to 'duetFromBase' does not match the config's architecture: it has no layer 'userTower1'");
  });
});
