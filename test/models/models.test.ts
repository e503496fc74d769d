// Every reference model × variant: shapes, forward, save/load, config, leaks, training, split.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { DynamicDense } from '../../src/layers/dynamic_dense';
import { ParameterGenerator } from '../../src/layers/parameter_generator';
import type { ModelKind, ModelVariant } from '../../src/models/common/options';
import { createModel } from '../../src/models/create_model';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import {
  batch, bce, CLICK_LENGTH, compileForLogits, KINDS, leakedTensors, syntheticRows, tinyOptions,
} from './helpers';

const DYNAMIC: Record<ModelKind, string[]> = {
  sasrec: ['userTower1', 'userTower2'],
  gru4rec: ['userTower1', 'userTower2'],
  din: ['mlp1', 'mlp2'],
};
const STATIC: Record<ModelKind, string[]> = {
  sasrec: ['itemEmbedding', 'positionEmbedding', 'sequenceTransform', 'transformer1', 'userState',
    'targetTower1', 'targetTower2', 'score'],
  gru4rec: ['itemEmbedding', 'sequenceTransform', 'gru', 'targetTower1', 'targetTower2', 'score'],
  din: ['itemEmbedding', 'targetTransform', 'sequenceTransform', 'targetAttention', 'mlpInput',
    'output'],
};

const CASES: Array<[ModelKind, ModelVariant]> =
  KINDS.flatMap((k) => (['base', 'duet'] as const).map((v): [ModelKind, ModelVariant] => [k, v]));

// A DUET model whose generator starts random, so its generated weights are not all zero.
const build = (kind: ModelKind, variant: ModelVariant) =>
  createModel(tinyOptions(kind, { variant, generator: { init: 'glorot' } }));

describe.each(CASES)('%s (%s)', (kind, variant) => {
  it('has inputs target [batch, 1] and click [batch, L], one logit out, stable layer names', () => {
    const { model } = build(kind, variant);
    expect(model.inputs.map((t) => [t.sourceLayer.name, t.shape])).toEqual([
      ['target', [null, 1]], ['click', [null, CLICK_LENGTH]],
    ]);
    expect(model.outputs.map((t) => t.shape)).toEqual([[null, 1]]);
    expect(model.name).toBe(variant === 'base' ? kind : `${kind}_duet`);
    const byName = new Map(model.layers.map((l) => [l.name, l.getClassName()]));
    for (const name of STATIC[kind]) expect(byName.has(name), name).toBe(true);
    for (const name of DYNAMIC[kind]) {
      expect(byName.get(name), name).toBe(variant === 'base' ? 'Dense' : 'DuetDynamicDense');
    }
    expect(byName.has('duetGenerator')).toBe(variant === 'duet');
  });

  it('predicts finite logits [batch, 1] for right-, left-, single- and all-padded clicks', () => {
    const { model } = build(kind, variant);
    const y = model.predict(batch()) as tf.Tensor;
    expect(y.shape).toEqual([4, 1]);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    // Different users get different scores (the model reads the clicks).
    const values = Array.from(y.dataSync());
    expect(new Set(values.map((v) => v.toFixed(6))).size).toBeGreaterThan(1);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const { model } = build(kind, variant);
    const loaded = await roundTrip(model);
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
    const x = batch();
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('returns a JSON config that rebuilds the same model', () => {
    const { model, config } = build(kind, variant);
    const json = JSON.parse(JSON.stringify(config));
    expect(json).toEqual(config);
    expect(config).toMatchObject({ model: kind, variant, dynamicLayers: DYNAMIC[kind], seed: 7 });
    const again = createModel(json);
    expect(again.config).toEqual(config);
    const x = batch();
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, again.model.predict(x) as tf.Tensor)).toBe(0);
  });

  it('does not leak tensors over repeated predict', () => {
    const { model } = build(kind, variant);
    const x = batch();
    expect(leakedTensors(() => model.predict(x) as tf.Tensor)).toBe(0);
  });

  it('lowers the BCE loss in a few epochs of Adam on tiny synthetic data', async () => {
    const { model } = createModel(tinyOptions(kind, { variant }));
    const { x, y } = syntheticRows(64, 3);
    const before = bce(model, x, y);
    const generator = model.layers.find((l) => l instanceof ParameterGenerator);
    const genBefore = generator?.getWeights().map((w) => w.clone());
    compileForLogits(model);
    await model.fit(x, y, { epochs: 8, batchSize: 16, verbose: 0, shuffle: false });
    const after = bce(model, x, y);
    expect(after, `${before} → ${after}`).toBeLessThan(0.8 * before);
    if (generator !== undefined) {
      // The generator itself trains (its weights are not stuck in a plain list).
      const moved = generator.getWeights().map((w, i) => maxAbsDiff(w, (genBefore as tf.Tensor[])[i]));
      expect(Math.max(...moved)).toBeGreaterThan(0);
    }
  });
});

describe.each(KINDS)('%s DUET split', (kind) => {
  it('generator.predict then device.predict equals predict', () => {
    const { model } = build(kind, 'duet');
    const { generator, device, layout } = splitDuet(model);
    expect(layout.slices.map((s) => s.name)).toEqual(DYNAMIC[kind]);
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['click']);
    expect(device.inputs.map((t) => t.sourceLayer.name)).toEqual(['target', 'click', 'duetParams']);
    const [target, click] = batch();
    const params = generator.predict(click) as tf.Tensor;
    expect(params.shape).toEqual([4, layout.total]);
    expect(tf.max(tf.abs(params)).dataSync()[0]).toBeGreaterThan(0);
    const split = device.predict([target, click, params]) as tf.Tensor;
    expect(maxAbsDiff(split, model.predict([target, click]) as tf.Tensor)).toBeLessThan(1e-5);
    const dynamic = device.layers.filter((l) => l instanceof DynamicDense).map((l) => l.name);
    expect(dynamic).toEqual(DYNAMIC[kind]);
  });
});

describe('model creation', () => {
  it('leaves no tensor behind but the returned model\'s weights', () => {
    for (const kind of KINDS) {
      for (const variant of ['base', 'duet'] as const) {
        const before = tf.memory().numTensors;
        const { model } = createModel(tinyOptions(kind, { variant }));
        expect(tf.memory().numTensors - before, `${kind} ${variant}`).toBe(model.weights.length);
      }
    }
  });

  it('is reproducible with a seed and differs across seeds', () => {
    for (const kind of KINDS) {
      const x = batch();
      const a = createModel(tinyOptions(kind, { seed: 1 })).model.predict(x) as tf.Tensor;
      const b = createModel(tinyOptions(kind, { seed: 1 })).model.predict(x) as tf.Tensor;
      const c = createModel(tinyOptions(kind, { seed: 2 })).model.predict(x) as tf.Tensor;
      expect(maxAbsDiff(a, b), kind).toBe(0);
      expect(maxAbsDiff(a, c), kind).toBeGreaterThan(0);
    }
  });

  it('draws every weight from the seed, seed 0 (the CLI default) included', () => {
    // tfjs draws Gaussians from Math.random when handed seed 0, so each derived seed must not be 0.
    for (const kind of KINDS) {
      for (const encoder of ['gru', 'attention', 'mean'] as const) {
        const make = () => createModel(tinyOptions(kind, { variant: 'duet', seed: 0, generator: { encoder } }))
          .model.getWeights();
        const a = make();
        make().forEach((w, i) => expect(maxAbsDiff(a[i], w), `${kind} ${encoder} weight ${i}`).toBe(0));
      }
    }
  });

  it('unseeded models draw fresh weights', () => {
    const x = batch();
    const a = createModel(tinyOptions('sasrec', { seed: null })).model.predict(x) as tf.Tensor;
    const b = createModel(tinyOptions('sasrec', { seed: null })).model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
  });

  it('keeps every model a plain tfl.LayersModel', () => {
    for (const kind of KINDS) {
      expect(createModel(tinyOptions(kind)).model).toBeInstanceOf(tfl.LayersModel);
    }
  });
});
