import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { splitValidation } from '../../src/data/split_validation';
import type { DuetDataset } from '../../src/data/types';
import { evaluateRanking } from '../../src/eval/evaluate_ranking';
import { scoreDataset } from '../../src/eval/score';
import { train, type EpochLog } from '../../src/train/train';
import { clipByGlobalNorm } from '../../src/train/train_step';
import { ParameterGenerator } from '../../src/layers/parameter_generator';
import { cloneModel, maxWeightDiff, tinyData, tinyDuetModel, tinyModel, weightValues } from '../eval/models';

const DIMS = { numItems: 20, clickLength: 4, triggerLength: 2 };
const data = tinyData({ users: 10, rowsPerUser: 20, ...DIMS, seed: 1 });

/** All inputs of `model` for every row of `ds`, built by hand (not by the code under test). */
function allInputs(model: tfl.LayersModel, ds: DuetDataset): tf.Tensor[] {
  const byName: Record<string, () => tf.Tensor> = {
    target: () => tf.tensor2d(ds.target, [ds.size, 1], 'int32'),
    click: () => tf.tensor2d(ds.click, [ds.size, ds.clickLength], 'int32'),
    trigger: () => tf.tensor2d(ds.trigger, [ds.size, ds.triggerLength], 'int32'),
    user: () => tf.tensor2d(ds.user, [ds.size, 1], 'int32'),
  };
  return model.inputs.map((t) => byName[t.sourceLayer.name]());
}

afterEach(() => vi.restoreAllMocks());

describe('train', () => {
  it('decreases the loss on a learnable problem', async () => {
    const model = tinyModel(DIMS);
    const { history, bestEpoch, trainSamplesPerSecond, aborted } =
      await train(model, { train: data }, { epochs: 8, batchSize: 32, learningRate: 0.03 });
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(history[0].loss).toBeGreaterThan(0.6);
    expect(history[7].loss).toBeLessThan(0.5 * history[0].loss);
    expect(bestEpoch).toBe(8);
    expect(aborted).toBe(false);
    expect(trainSamplesPerSecond).toBeGreaterThan(0);
  });

  it('applies clipNorm: updates equal Adam on hand-clipped gradients and differ from unclipped ones', async () => {
    const ds = tinyData({ users: 4, rowsPerUser: 10, ...DIMS, seed: 2 });
    const base = tinyModel(DIMS);
    const clipped = await cloneModel(base);
    const unclipped = await cloneModel(base);
    const reference = await cloneModel(base);
    const clipNorm = 0.05;
    const options = { epochs: 3, batchSize: ds.size, learningRate: 0.05 };
    await train(clipped, { train: ds }, { ...options, clipNorm });
    await train(unclipped, { train: ds }, options);

    // The same three full-batch steps by hand: gradient, clip in float64, tfjs Adam.
    const optimizer: tf.Optimizer = tf.train.adam(options.learningRate);
    const variables = reference.trainableWeights.map((w) => w.read() as tf.Variable);
    const xs = allInputs(reference, ds);
    const labels = tf.tensor2d(ds.label, [ds.size, 1]);
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(() =>
        tf.losses.sigmoidCrossEntropy(labels, reference.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, variables);
      const arrays = variables.map((v) => Array.from(grads[v.name].dataSync()));
      const norm = Math.sqrt(arrays.reduce((s, a) => s + a.reduce((t, g) => t + g * g, 0), 0));
      expect(norm).toBeGreaterThan(clipNorm); // clipping is active at every step
      const scaled: tf.NamedTensorMap = {};
      variables.forEach((v, i) => { scaled[v.name] = tf.tensor(arrays[i].map((g) => g * clipNorm / norm), v.shape); });
      optimizer.applyGradients(scaled);
      tf.dispose([value, ...Object.values(grads), ...Object.values(scaled)]);
    }
    tf.dispose([...xs, labels]);
    optimizer.dispose();

    const byHand = weightValues(reference);
    expect(maxWeightDiff(weightValues(clipped), byHand)).toBeLessThan(1e-5);
    expect(maxWeightDiff(weightValues(unclipped), byHand)).toBeGreaterThan(1e-3);
  });

  it('clipByGlobalNorm scales all gradients by one factor, only above the bound', () => {
    const grads = { a: tf.tensor1d([3]), b: tf.tensor1d([0, 4]) };
    const small = clipByGlobalNorm(grads, 1);
    expect(Array.from(small.a.dataSync())[0]).toBeCloseTo(0.6, 6);
    expect(Array.from(small.b.dataSync())).toEqual([0, expect.closeTo(0.8, 6)]);
    const large = clipByGlobalNorm(grads, 10);
    expect(Array.from(large.b.dataSync())).toEqual([0, 4]);
    expect(() => clipByGlobalNorm(grads, 0)).toThrow(/'clipNorm' passed to 'clipByGlobalNorm' must be a positive finite number/);
    tf.dispose([grads, small, large] as never);
  });

  it('selects the best validation epoch and restores its weights (a later epoch is worse)', async () => {
    // Validation labels are the opposite of the training rule: every epoch of learning makes it worse.
    const validation = tinyData({ users: 3, rowsPerUser: 12, ...DIMS, seed: 9, rule: (t) => 1 - (t % 2) });
    for (const restoreBest of [true, false]) {
      const model = tinyModel(DIMS);
      const snapshots: Float32Array[][] = [];
      const checks: Array<[EpochLog, ReturnType<typeof evaluateRanking>]> = [];
      const result = await train(model, { train: data, validation }, {
        epochs: 4, batchSize: 32, learningRate: 0.05, selectBy: 'logloss', restoreBest,
        onEpoch: async (log) => {
          snapshots.push(weightValues(model));
          checks.push([log, evaluateRanking(await scoreDataset(model, validation), validation.label, validation.user)]);
        },
      });
      for (const [log, expected] of checks) expect(log.validation).toEqual(expected);
      const losses = result.history.map((h) => h.validation!.logloss);
      const best = losses.indexOf(Math.min(...losses)) + 1;
      expect(result.bestEpoch).toBe(best);
      expect(best).toBeLessThan(4); // the construction works: the last epoch is not the best
      const now = weightValues(model);
      const kept = restoreBest ? snapshots[best - 1] : snapshots[3];
      expect(maxWeightDiff(now, kept)).toBe(0);
      expect(maxWeightDiff(now, restoreBest ? snapshots[3] : snapshots[best - 1])).toBeGreaterThan(0);
    }
  });

  it('selects by AUC by default', async () => {
    const validation = tinyData({ users: 3, rowsPerUser: 12, ...DIMS, seed: 9, rule: (t) => 1 - (t % 2) });
    const model = tinyModel(DIMS);
    const result = await train(model, { train: data, validation }, { epochs: 3, batchSize: 32, learningRate: 0.05 });
    const aucs = result.history.map((h) => h.validation!.auc);
    expect(result.bestEpoch).toBe(aucs.indexOf(Math.max(...aucs)) + 1);
    const final = evaluateRanking(await scoreDataset(model, validation), validation.label, validation.user);
    expect(final.auc).toBe(Math.max(...aucs));
  });

  it('holds out validationFraction of the training users: their rows never train the model', async () => {
    const ds = tinyData({ users: 10, rowsPerUser: 6, ...DIMS, seed: 3 });
    const model = tinyModel({ ...DIMS, numUsers: 10 });
    const table = () => model.getLayer('users').getWeights()[0].arraySync() as number[][];
    const before = table();
    const result = await train(model, { train: ds }, {
      epochs: 2, batchSize: 16, learningRate: 0.05, validationFraction: 0.3, seed: 4, restoreBest: false,
    });
    const { validation } = splitValidation(ds, 0.3, 4);
    const held = new Set(validation.user);
    expect(held.size).toBe(3);
    const after = table();
    for (let u = 1; u <= 10; u++) {
      const changed = after[u].some((v, j) => v !== before[u][j]);
      expect(changed, `user ${u}`).toBe(!held.has(u));
    }
    const last = result.history[1].validation!;
    expect(last.users).toBe(3);
    expect(last).toEqual(evaluateRanking(await scoreDataset(model, validation), validation.label, validation.user));
  });

  it('never takes test data: no test argument, test sets refused as train or validation', async () => {
    const model = tinyModel(DIMS);
    const test = tinyData({ users: 2, rowsPerUser: 5, ...DIMS, test: true });
    await expect(train(model, { train: test })).rejects.toThrow(/'data.train' passed to 'train' is a test set/);
    await expect(train(model, { train: data, validation: test })).rejects.toThrow(/'data.validation' passed to 'train' is a test set/);
    await expect(train(model, { train: data, test } as never)).rejects.toThrow(/takes only 'train' and 'validation', got 'test'/);
    await expect(train(model, { train: data, validation: data }, { validationFraction: 0.1 })).rejects.toThrow(/cannot be combined/);
  });

  it('is reproducible from the seed and the initial weights', async () => {
    const base = tinyModel(DIMS);
    const run = async (seed: number) => {
      const model = await cloneModel(base);
      const { history } = await train(model, { train: data }, { epochs: 3, batchSize: 16, learningRate: 0.02, seed });
      return { losses: history.map((h) => h.loss), weights: weightValues(model) };
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a.losses).toEqual(b.losses);
    expect(maxWeightDiff(a.weights, b.weights)).toBe(0);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('awaits onEpoch with every field, and falls back to the last epoch when no metric is defined', async () => {
    const validation = tinyData({ users: 2, rowsPerUser: 5, ...DIMS, seed: 4, rule: () => 1 });
    const logs: EpochLog[] = [];
    const result = await train(tinyModel(DIMS), { train: data, validation }, {
      epochs: 2, batchSize: 64,
      onEpoch: async (log) => { await new Promise((r) => setTimeout(r, 5)); logs.push(log); },
    });
    expect(logs).toEqual(result.history);
    for (const log of logs) {
      expect(Object.keys(log).sort()).toEqual(['epoch', 'loss', 'samplesPerSecond', 'seconds', 'threads', 'validation']);
      expect(log.threads).toBe(1); // 64 rows per step: too few for a second thread by default
      expect(Number.isFinite(log.loss)).toBe(true);
      expect(log.samplesPerSecond).toBeGreaterThan(0);
      expect(log.seconds).toBeGreaterThan(0);
      expect(Number.isNaN(log.validation!.auc)).toBe(true); // one class only
      expect(log.validation!.rows).toBe(10);
    }
    expect(result.bestEpoch).toBe(2);
  });

  it('stops on the abort signal: before starting, between epochs and within an epoch', async () => {
    const model = tinyModel(DIMS);
    const initial = weightValues(model);
    const before = tf.memory().numTensors;
    const stopped = await train(model, { train: data }, { epochs: 3, signal: AbortSignal.abort() });
    expect(stopped).toMatchObject({ history: [], bestEpoch: 0, aborted: true });
    expect(maxWeightDiff(weightValues(model), initial)).toBe(0);

    const controller = new AbortController();
    const twice = await train(model, { train: data }, {
      epochs: 5, batchSize: 64, onEpoch: (log) => { if (log.epoch === 2) controller.abort(); }, signal: controller.signal,
    });
    expect(twice.history.length).toBe(2);
    expect(twice.aborted).toBe(true);

    let reads = 0;
    const midway = { get aborted() { return ++reads > 3; } } as AbortSignal;
    const partial = await train(model, { train: data }, { epochs: 2, batchSize: 16, signal: midway });
    expect(partial).toMatchObject({ history: [], aborted: true });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks no tensors, with validation, clipping and restoring', async () => {
    const model = tinyModel(DIMS);
    const before = tf.memory().numTensors;
    await train(model, { train: data }, { epochs: 2, batchSize: 32, clipNorm: 1, validationFraction: 0.2 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('draws progress on stderr only, and only when it is a terminal', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    try {
      Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
      await train(tinyModel(DIMS), { train: data }, { epochs: 1, batchSize: 64, progress: true });
      expect(stderr).not.toHaveBeenCalled();
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      await train(tinyModel(DIMS), { train: data }, { epochs: 2, batchSize: 64, progress: true });
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/epoch 2\/2 \[=+\] 4\/4 loss \d\.\d{4} \d+ rows\/s, 1 thread(?!s)/);
      expect(stdout).not.toHaveBeenCalled();
    } finally {
      if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('gives ParameterGenerator weights their own Adam at generatorLearningRate', async () => {
    const ds = tinyData({ users: 4, rowsPerUser: 10, ...DIMS, seed: 2 });
    const model = tinyDuetModel(DIMS);
    const generator = model.layers.find((l) => l instanceof ParameterGenerator) as tfl.layers.Layer;
    const others = model.layers.filter((l) => l !== generator && l.trainableWeights.length > 0);
    const values = (layers: tfl.layers.Layer[]) => layers.flatMap((l) => l.getWeights().map((w) => w.dataSync().slice() as Float32Array));
    const before = { generator: values([generator]), others: values(others) };
    // Adam's first step moves every weight by about its learning rate (|m̂ / √v̂| = 1).
    await train(model, { train: ds }, { epochs: 1, batchSize: ds.size, learningRate: 1e-3, generatorLearningRate: 0.1 });
    const generatorMove = maxWeightDiff(values([generator]), before.generator);
    const otherMove = maxWeightDiff(values(others), before.others);
    expect(generatorMove).toBeGreaterThan(0.09);
    expect(generatorMove).toBeLessThan(0.1 + 1e-6);
    expect(otherMove).toBeGreaterThan(5e-4);
    expect(otherMove).toBeLessThan(1e-3 + 1e-6);

    for (const rate of [0.1, 1e-3]) { // also when it equals learningRate: a base model has no generator
      await expect(train(tinyModel(DIMS), { train: ds }, { generatorLearningRate: rate }))
        .rejects.toThrow(/'generatorLearningRate' passed to 'train' needs a model with a ParameterGenerator/);
    }
    await expect(train(model, { train: ds }, { generatorLearningRate: 0 }))
      .rejects.toThrow(/'generatorLearningRate' passed to 'train' must be a positive number, got 0/);
  });

  it('rejects bad options by name', async () => {
    const model = tinyModel(DIMS);
    await expect(train(model, { train: data }, { clipnorm: 1 } as never)).rejects.toThrow(/unknown option 'clipnorm' passed to 'train'/);
    await expect(train(model, { train: data }, { learningRate: -1 })).rejects.toThrow(/'learningRate' passed to 'train' must be a positive number/);
    await expect(train(model, { train: data }, { clipNorm: 0 })).rejects.toThrow(/'clipNorm' passed to 'train'/);
    await expect(train(model, { train: data }, { selectBy: 'ndcg' as never })).rejects.toThrow(/'selectBy'/);
    await expect(train(model, { train: data }, { validationFraction: 1 })).rejects.toThrow(/'validationFraction' passed to 'train' must be in \(0, 1\)/);
    await expect(train(tinyModel({ ...DIMS, clickLength: 3 }), { train: data })).rejects.toThrow(/'click' must have shape \[batch, 4\]/);
  });
});
