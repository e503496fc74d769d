import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { isTestSet } from '../../src/data/test_marks';
import { sliceDataset } from '../../src/data/slice_dataset';
import { evaluateRanking } from '../../src/eval/evaluate_ranking';
import { scoreDataset } from '../../src/eval/score';
import { finetune } from '../../src/train/finetune';
import { train } from '../../src/train/train';
import { cloneModel, maxWeightDiff, tinyData, tinyDuetModel, tinyModel, weightValues } from '../eval/models';

const DIMS = { numItems: 20, clickLength: 4, triggerLength: 2 };
const trainSet = tinyData({ users: 6, rowsPerUser: 8, ...DIMS, seed: 1 });
const test = tinyData({ users: 6, rowsPerUser: 5, ...DIMS, seed: 2, test: true });
const OPTIONS = { learningRate: 0.05, batchSize: 4, epochs: 2 };

/** Scores of `result` keyed by the test row they belong to (user, target, label, click). */
function byRowKey(ds: typeof test, rows: Int32Array, scores: Float32Array): Map<string, number> {
  const L = ds.clickLength;
  const out = new Map<string, number>();
  rows.forEach((r, i) => out.set(`${ds.user[r]}|${ds.target[r]}|${ds.label[r]}|${ds.click.subarray(r * L, r * L + L)}`, scores[i]));
  return out;
}

describe('finetune', () => {
  it('starts every user from the base weights: user order does not change any score', async () => {
    const model = tinyModel(DIMS);
    const base = weightValues(model);
    const forward = await finetune(model, { train: trainSet, test }, OPTIONS);
    const reversedTest = sliceDataset(test, Array.from({ length: test.size }, (_, i) => test.size - 1 - i));
    expect(isTestSet(reversedTest)).toBe(true);
    const backward = await finetune(model, { train: trainSet, test: reversedTest }, OPTIONS);
    const a = byRowKey(test, forward.rows, forward.scores);
    const b = byRowKey(reversedTest, backward.rows, backward.scores);
    expect(a.size).toBe(test.size);
    for (const [key, score] of a) expect(b.get(key)).toBeCloseTo(score, 5);
    expect(maxWeightDiff(weightValues(model), base)).toBe(0); // the base model is untouched
  });

  it('equals training a fresh copy on the user\'s own rows, then scoring their test rows', async () => {
    const model = tinyModel(DIMS);
    const { rows, scores } = await finetune(model, { train: trainSet, test }, { learningRate: 0.05, batchSize: 64 });
    const user = 3;
    const own = Array.from({ length: trainSet.size }, (_, r) => r).filter((r) => trainSet.user[r] === user);
    const copy = await cloneModel(model);
    await train(copy, { train: sliceDataset(trainSet, own) }, { learningRate: 0.05, batchSize: 64 });
    const testRows = Array.from(rows).filter((r) => test.user[r] === user);
    const want = await scoreDataset(copy, sliceDataset(test, testRows));
    testRows.forEach((r, i) => expect(scores[Array.from(rows).indexOf(r)]).toBeCloseTo(want[i], 4));
    // …and fine-tuning changed something: the base model scores differently.
    const baseScores = await scoreDataset(model, sliceDataset(test, testRows));
    expect(Math.max(...baseScores.map((s, i) => Math.abs(s - want[i])))).toBeGreaterThan(1e-3);
  });

  it('reports the metrics over the test rows and the adaptation time; 0 epochs equals the base model', async () => {
    const model = tinyModel(DIMS);
    const { report, rows, scores } = await finetune(model, { train: trainSet, test }, { ...OPTIONS, ks: [1, 3] });
    expect(Object.keys(report)).toEqual(['auc', 'uauc', 'logloss', 'ndcg@1', 'hr@1', 'ndcg@3', 'hr@3', 'users', 'rows', 'adaptMsPerUser']);
    expect(report.users).toBe(6);
    expect(report.rows).toBe(test.size);
    expect(report.adaptMsPerUser).toBeGreaterThan(0);
    const { adaptMsPerUser: _, ...metrics } = report;
    expect(metrics).toEqual(evaluateRanking(scores, Array.from(rows, (r) => test.label[r]), Array.from(rows, (r) => test.user[r]), { ks: [1, 3] }));

    const none = await finetune(model, { train: trainSet, test }, { epochs: 0 });
    const base = await scoreDataset(model, test);
    none.scores.forEach((s, i) => expect(s).toBeCloseTo(base[none.rows[i]], 6));
  });

  it('subsamples users with maxUsers, seeded', async () => {
    const model = tinyModel(DIMS);
    const a = await finetune(model, { train: trainSet, test }, { ...OPTIONS, epochs: 1, maxUsers: 2, seed: 5 });
    const b = await finetune(model, { train: trainSet, test }, { ...OPTIONS, epochs: 1, maxUsers: 2, seed: 5 });
    expect(a.report.users).toBe(2);
    expect(a.report.rows).toBe(10);
    expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(new Set(Array.from(a.rows, (r) => test.user[r])).size).toBe(2);
  });

  it('leaks no tensors', async () => {
    const model = tinyModel(DIMS); // its 'items' embedding is shared by target and click
    await finetune(model, { train: trainSet, test }, { ...OPTIONS, maxUsers: 1 });
    const before = tf.memory().numTensors;
    await finetune(model, { train: trainSet, test }, { ...OPTIONS, clipNorm: 1 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fine-tunes a duetWrap-ed model (custom layers are copied too), leaking nothing per user', async () => {
    const model = tinyDuetModel(DIMS);
    const leak = async (maxUsers: number) => {
      const before = tf.memory().numTensors;
      const { report, scores } = await finetune(model, { train: trainSet, test }, { ...OPTIONS, maxUsers, clipNorm: 1 });
      expect(report.users).toBe(maxUsers);
      expect(scores.every(Number.isFinite)).toBe(true);
      return tf.memory().numTensors - before;
    };
    // Building a ParameterGenerator currently leaks a few tensors (src/layers), once per copy.
    expect(await leak(3)).toBe(await leak(1));
  });

  it('rejects a test set as training data and unknown options', async () => {
    const model = tinyModel(DIMS);
    await expect(finetune(model, { train: test, test })).rejects.toThrow(/'data.train' passed to 'finetune' is a test set/);
    await expect(finetune(model, { train: trainSet, test }, { users: 3 } as never)).rejects.toThrow(/unknown option 'users' passed to 'finetune'/);
    await expect(finetune(model, { train: trainSet, test }, { maxUsers: 0 })).rejects.toThrow(/'maxUsers' passed to 'finetune' must be a positive integer/);
  });
});
