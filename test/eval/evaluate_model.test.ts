import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { sliceDataset } from '../../src/data/slice_dataset';
import { evaluateModel } from '../../src/eval/evaluate_model';
import { evaluateRanking } from '../../src/eval/evaluate_ranking';
import { bindModelInputs } from '../../src/eval/model_inputs';
import { scoreDataset } from '../../src/eval/score';
import { synthetic } from '../../src/data/synthetic';
import { createModel } from '../../src/models/create_model';
import { splitTwoTower } from '../../src/wrap/two_tower';
import { predictAll, tinyData, tinyDuetModel, tinyModel } from './models';

const DIMS = { numItems: 30, clickLength: 5, triggerLength: 3 };
const data = tinyData({ users: 6, rowsPerUser: 7, ...DIMS, seed: 2 });

describe('scoreDataset', () => {
  it('matches model.predict on every row, for int32 and float32 inputs and all four columns', async () => {
    for (const dtype of ['int32', 'float32'] as const) {
      const model = tinyModel({ ...DIMS, numUsers: 6, dtype });
      expect(model.inputs.map((t) => t.sourceLayer.name)).toEqual(['target', 'click', 'trigger', 'user']);
      const scores = await scoreDataset(model, data, { batchSize: 8 });
      expect(scores).toBeInstanceOf(Float32Array);
      expect(scores.length).toBe(data.size);
      const expected = predictAll(model, data);
      scores.forEach((s, i) => expect(s).toBeCloseTo(expected[i], 5));
    }
  });

  it('does not depend on the batch size', async () => {
    const model = tinyModel(DIMS);
    const reference = await scoreDataset(model, data, { batchSize: data.size });
    for (const batchSize of [1, 5, 16, 1024]) {
      expect(Array.from(await scoreDataset(model, data, { batchSize }))).toEqual(Array.from(reference));
    }
  });

  it('scores a duetWrap-ed model conditioned on the click input', async () => {
    const model = tinyDuetModel(DIMS);
    const scores = await scoreDataset(model, data, { batchSize: 10 });
    const expected = predictAll(model, data);
    scores.forEach((s, i) => expect(s).toBeCloseTo(expected[i], 5));
  });

  it('encodes each distinct user once on two-tower models, with the same scores as the full model', async () => {
    // A test split: every user's history repeated over 1 + 9 candidates.
    const { test, protocol } = synthetic({ users: 12, items: 40, testNeg: 9, seed: 5 });
    for (const kind of ['sasrec', 'gru4rec'] as const) {
      for (const variant of ['base', 'duet'] as const) {
        const { model } = createModel({ model: kind, variant, numItems: protocol.items,
          clickLength: test.clickLength, dim: 8, seed: 3, ...(kind === 'sasrec' ? { numHeads: 2 } : {}) });
        expect(splitTwoTower(model)).not.toBeNull();
        const seen: number[] = [];
        const parts = splitTwoTower(model)!;
        const apply = parts.user.apply.bind(parts.user);
        parts.user.apply = ((x: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>) => {
          seen.push((Array.isArray(x) ? x[0] : x).shape[0]);
          return apply(x, kwargs);
        }) as typeof parts.user.apply;
        const before = tf.memory().numTensors;
        const scores = await scoreDataset(model, test, { batchSize: 25 });
        parts.user.apply = apply;
        expect(tf.memory().numTensors).toBe(before);
        // 120 rows in batches of 25: the users each batch spans, not one encoding per row.
        const encoded = seen.reduce((a, b) => a + b, 0);
        expect(encoded).toBeGreaterThanOrEqual(12);
        expect(encoded).toBeLessThan(12 + 5);
        const expected = predictAll(model, test);
        scores.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
        model.dispose();
      }
    }
  });

  it('leaks no tensors', async () => {
    const model = tinyModel(DIMS);
    await scoreDataset(model, data, { batchSize: 4 });
    const before = tf.memory().numTensors;
    await scoreDataset(model, data, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the problem: unknown input names, widths, outputs, batch size', async () => {
    const bad = tfl.input({ shape: [1], name: 'item', dtype: 'int32' });
    const out = tfl.layers.dense({ units: 1 }).apply(tfl.layers.flatten().apply(
      tfl.layers.embedding({ inputDim: 31, outputDim: 2 }).apply(bad))) as tfl.SymbolicTensor;
    await expect(scoreDataset(tfl.model({ inputs: bad, outputs: out }), data))
      .rejects.toThrow(/model input 'item' is not a dataset column.*'target', 'click', 'trigger', 'user'/);
    await expect(scoreDataset(tinyModel({ ...DIMS, clickLength: 4 }), data))
      .rejects.toThrow(/input 'click' must have shape \[batch, 5\].*got \[batch, 4\]/);
    const target = tfl.input({ shape: [1], name: 'target' });
    const two = tfl.layers.dense({ units: 2 }).apply(target) as tfl.SymbolicTensor;
    await expect(scoreDataset(tfl.model({ inputs: target, outputs: two }), data))
      .rejects.toThrow(/one logit per row, shape \[batch, 1\], got \[batch, 2\]/);
    await expect(scoreDataset(tinyModel(DIMS), data, { batchSize: 0 }))
      .rejects.toThrow(/'batchSize' passed to 'scoreDataset' must be a positive integer, got 0/);
  });

  it('binds inputs by name in model order', () => {
    const bound = bindModelInputs(tinyModel({ ...DIMS, numUsers: 6 }), data, 'test');
    expect(bound.map((b) => [b.column, b.width, b.rowShape])).toEqual([
      ['target', 1, [1]], ['click', 5, [5]], ['trigger', 3, [3]], ['user', 1, [1]],
    ]);
  });
});

describe('evaluateModel', () => {
  it('equals evaluateRanking on scoreDataset output, plus the inference speed', async () => {
    const model = tinyModel(DIMS);
    const report = await evaluateModel(model, data, { batchSize: 9 });
    const scores = await scoreDataset(model, data);
    const { inferSamplesPerSecond, ...metrics } = report;
    expect(metrics).toEqual(evaluateRanking(scores, data.label, data.user));
    expect(inferSamplesPerSecond).toBeGreaterThan(0);
    expect(report.users).toBe(6);
    expect(report.rows).toBe(data.size);
  });

  it('takes ks, and the batch size does not change any metric', async () => {
    const model = tinyModel(DIMS);
    const a = await evaluateModel(model, data, { ks: [1, 3], batchSize: 1 });
    const b = await evaluateModel(model, data, { ks: [1, 3], batchSize: 100 });
    expect(Object.keys(a)).toEqual(['auc', 'uauc', 'logloss', 'ndcg@1', 'hr@1', 'ndcg@3', 'hr@3', 'users', 'rows', 'inferSamplesPerSecond']);
    const strip = ({ inferSamplesPerSecond: _, ...m }: typeof a) => m;
    expect(strip(a)).toEqual(strip(b));
  });

  it('groups by user whatever the row order', async () => {
    const model = tinyModel(DIMS);
    const order = Array.from({ length: data.size }, (_, i) => (i * 11) % data.size);
    const shuffled = sliceDataset(data, order);
    const a = await evaluateModel(model, data);
    const b = await evaluateModel(model, shuffled);
    expect(b.uauc).toBeCloseTo(a.uauc, 12);
    expect(b['ndcg@5']).toBeCloseTo(a['ndcg@5'], 12);
  });
});
