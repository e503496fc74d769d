import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { datasetBatches, epochOrder } from '../../src/train/batches';
import { tinyData, tinyModel } from '../eval/models';

const DIMS = { numItems: 20, clickLength: 4, triggerLength: 2 };
const data = tinyData({ users: 5, rowsPerUser: 5, ...DIMS, seed: 1 });

describe('datasetBatches', () => {
  it('builds inputs in model order with the right shapes and the rows\' values', () => {
    const model = tinyModel({ ...DIMS, numUsers: 5 });
    const sizes: number[] = [];
    for (const batch of datasetBatches(model, data, { batchSize: 10, seed: 3 })) {
      sizes.push(batch.size);
      const [target, click, trigger, user] = batch.inputs;
      expect(target.shape).toEqual([batch.size, 1]);
      expect(click.shape).toEqual([batch.size, 4]);
      expect(trigger.shape).toEqual([batch.size, 2]);
      expect(user.shape).toEqual([batch.size, 1]);
      expect(target.dtype).toBe('int32');
      expect(batch.labels.shape).toEqual([batch.size, 1]);
      const clicks = click.arraySync() as number[][];
      const labels = batch.labels.dataSync();
      batch.rows.forEach((r, i) => {
        expect(target.dataSync()[i]).toBe(data.target[r]);
        expect(user.dataSync()[i]).toBe(data.user[r]);
        expect(clicks[i]).toEqual(Array.from(data.click.subarray(r * 4, r * 4 + 4)));
        expect(labels[i]).toBe(data.label[r]);
      });
    }
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('feeds float32 inputs to a model declaring float32', () => {
    const model = tinyModel({ ...DIMS, dtype: 'float32' });
    const [batch] = datasetBatches(model, data, { batchSize: 4 });
    expect(batch.inputs.map((t) => t.dtype)).toEqual(['float32', 'float32', 'float32']);
  });

  it('covers every row (or every row of a subset) exactly once per epoch', () => {
    const model = tinyModel(DIMS);
    for (const epoch of [0, 1, 2]) {
      const seen: number[] = [];
      for (const b of datasetBatches(model, data, { batchSize: 7, seed: 5, epoch })) seen.push(...b.rows);
      expect(seen.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: data.size }, (_, i) => i));
    }
    const subset = [3, 9, 10, 24, 0];
    const seen: number[] = [];
    for (const b of datasetBatches(model, data, { batchSize: 2, rows: subset })) seen.push(...b.rows);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 3, 9, 10, 24]);
  });

  it('shuffles deterministically from the seed, differently per epoch and per seed', () => {
    const model = tinyModel(DIMS);
    const order = (seed: number, epoch: number, shuffle = true) =>
      [...datasetBatches(model, data, { batchSize: 6, seed, epoch, shuffle })].flatMap((b) => Array.from(b.rows));
    expect(order(1, 0)).toEqual(order(1, 0));
    expect(order(1, 0)).toEqual(Array.from(epochOrder(data.size, 1, 0)));
    expect(order(1, 0)).not.toEqual(order(1, 1));
    expect(order(1, 0)).not.toEqual(order(2, 0));
    expect(order(1, 0, false)).toEqual(Array.from({ length: data.size }, (_, i) => i));
  });

  it('disposes every batch, when the loop finishes and when it breaks', () => {
    const model = tinyModel(DIMS);
    const before = tf.memory().numTensors;
    let live = 0;
    for (const b of datasetBatches(model, data, { batchSize: 4 })) live = Math.max(live, tf.memory().numTensors - before + 0 * b.size);
    expect(live).toBe(4); // target, click, trigger, labels of the current batch only
    expect(tf.memory().numTensors).toBe(before);
    for (const b of datasetBatches(model, data, { batchSize: 4 })) if (b.size > 0) break;
    expect(tf.memory().numTensors).toBe(before);
    expect(() => {
      for (const b of datasetBatches(model, data, { batchSize: 4 })) if (b.size > 0) throw new Error('boom');
    }).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad batch sizes, row indices and models that do not fit', () => {
    const model = tinyModel(DIMS);
    expect(() => [...datasetBatches(model, data, { batchSize: 0 })]).toThrow(/'batchSize' passed to 'datasetBatches' must be a positive integer/);
    expect(() => [...datasetBatches(model, data, { rows: [0, 25] })]).toThrow(/'rows' passed to 'datasetBatches' must hold row numbers in \[0, 25\), got 25 at position 1/);
    expect(() => [...datasetBatches(tinyModel({ ...DIMS, triggerLength: 3 }), data)]).toThrow(/'trigger' must have shape \[batch, 2\]/);
  });
});
