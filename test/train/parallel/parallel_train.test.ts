import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { train, type EpochLog } from '../../../src/train/train';
import { cloneModel, maxWeightDiff, tinyData, tinyDuetModel, tinyModel, weightValues } from '../../eval/models';

const DIMS = { numItems: 20, clickLength: 4, triggerLength: 2 };
// 70 rows, batches of 24: 24, 24, 22, so the shards are uneven; with 3 threads 8/8/8 and 8/7/7.
const data = tinyData({ users: 7, rowsPerUser: 10, ...DIMS, seed: 3 });

describe('train with threads', () => {
  it('equals one-thread training at the same global batch (DUET, clipping, generator rate) and reports the threads', async () => {
    const base = tinyDuetModel(DIMS);
    const one = await cloneModel(base);
    const two = await cloneModel(base);
    const options = { epochs: 2, batchSize: 24, learningRate: 0.02, generatorLearningRate: 0.05, clipNorm: 0.5, seed: 4 };
    const logsOne: EpochLog[] = [];
    const logsTwo: EpochLog[] = [];
    const r1 = await train(one, { train: data }, { ...options, threads: 1, onEpoch: (l) => { logsOne.push(l); } });
    const r2 = await train(two, { train: data }, { ...options, threads: 2, onEpoch: (l) => { logsTwo.push(l); } });
    expect(r1.threads).toBe(1);
    expect(r2.threads).toBe(2);
    // Training moved the weights well beyond the tolerance, and both runs moved them alike.
    expect(maxWeightDiff(weightValues(one), weightValues(base))).toBeGreaterThan(0.01);
    expect(maxWeightDiff(weightValues(two), weightValues(one))).toBeLessThan(1e-5);
    expect(logsTwo.map((l) => l.loss)).toHaveLength(2);
    logsTwo.forEach((l, i) => expect(Math.abs(l.loss - logsOne[i].loss)).toBeLessThan(1e-5));
  }, 60_000);

  it('is deterministic for a seed and a thread count, and matches with an empty shard (3 threads, last batch of 1)', async () => {
    const ds = tinyData({ users: 5, rowsPerUser: 5, ...DIMS, seed: 5 }); // 25 rows: batches 12, 12, 1
    const base = tinyModel(DIMS);
    const a = await cloneModel(base);
    const b = await cloneModel(base);
    const ref = await cloneModel(base);
    const options = { epochs: 1, batchSize: 12, learningRate: 0.05, seed: 1 };
    await train(a, { train: ds }, { ...options, threads: 3 });
    await train(b, { train: ds }, { ...options, threads: 3 });
    await train(ref, { train: ds }, { ...options, threads: 1 });
    expect(maxWeightDiff(weightValues(a), weightValues(b))).toBe(0);
    expect(maxWeightDiff(weightValues(a), weightValues(ref))).toBeLessThan(1e-5);
    expect(maxWeightDiff(weightValues(a), weightValues(base))).toBeGreaterThan(0.01);
  }, 60_000);

  it('stops on the abort signal within an epoch, every replica after the same step, leaking no tensors', async () => {
    // A signal that turns aborted on its 4th reading: train reads it before the epoch, then after
    // each step, so exactly 3 steps run, on one thread as on two.
    const signalAfterSteps = () => {
      let reads = 0;
      return { get aborted() { return ++reads > 3; } } as unknown as AbortSignal;
    };
    const base = tinyModel(DIMS);
    const one = await cloneModel(base);
    const two = await cloneModel(base);
    const options = { epochs: 2, batchSize: 8, learningRate: 0.05 };
    const before = tf.memory().numTensors;
    const r2 = await train(two, { train: data }, { ...options, threads: 2, signal: signalAfterSteps() });
    expect(tf.memory().numTensors).toBe(before);
    const r1 = await train(one, { train: data }, { ...options, threads: 1, signal: signalAfterSteps() });
    expect([r1.aborted, r2.aborted]).toEqual([true, true]);
    expect(r2.history).toHaveLength(0);
    expect(maxWeightDiff(weightValues(two), weightValues(base))).toBeGreaterThan(0.01);
    expect(maxWeightDiff(weightValues(two), weightValues(one))).toBeLessThan(1e-5);
  }, 60_000);

  it('rejects a bad thread count by name', async () => {
    for (const threads of [0, 1.5, -1]) {
      await expect(train(tinyModel(DIMS), { train: data }, { threads }))
        .rejects.toThrow(new RegExp(`'threads' passed to 'train' must be a positive integer, got ${threads}`));
    }
  });
});

describe('train with threads, failures', () => {
  it('fails with a clear error, and no hang, when a worker cannot rebuild the model', async () => {
    // A layer class registered in this thread only: the worker cannot deserialise it.
    class LocalOnly extends tfl.layers.Layer {
      static className = 'TestLocalOnlyLayer';
      override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor { return Array.isArray(x) ? x[0] : x; }
    }
    tf.serialization.registerClass(LocalOnly);
    const input = tfl.input({ shape: [1], name: 'target', dtype: 'int32' });
    const embedded = tfl.layers.flatten().apply(
      tfl.layers.embedding({ inputDim: DIMS.numItems + 1, outputDim: 4 }).apply(input)) as tfl.SymbolicTensor;
    const logit = tfl.layers.dense({ units: 1 }).apply(new LocalOnly({}).apply(embedded)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: logit });
    await expect(train(model, { train: data }, { batchSize: 24, threads: 2 }))
      .rejects.toThrow(/training thread 1: cannot rebuild the model in a worker thread .*TestLocalOnlyLayer/);
  }, 60_000);
});
