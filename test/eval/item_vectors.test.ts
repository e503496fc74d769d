import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { releaseItemVectors } from '../../src/eval/item_vectors';
import { recommend } from '../../src/eval/recommend';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { tinyData } from './models';

const NUM_ITEMS = 30;
const HISTORY = [3, 14, 8];

function sasrec(seed: number) {
  return createModel({
    model: 'sasrec', variant: 'duet', itemBias: true, numItems: NUM_ITEMS, clickLength: 4, dim: 8,
    numHeads: 2, seed, generator: { init: 'glorot', encoder: 'mean' },
  } as CreateModelOptions).model;
}

/** The top 5 by the whole model on tiled rows (one per item): no two-tower shortcut. */
async function tiledTop(model: ReturnType<typeof sasrec>, numItems = NUM_ITEMS) {
  const n = numItems;
  const click = Int32Array.of(3, 14, 8, 0);
  const out = tf.tidy(() => model.predict([
    tf.tensor2d(Int32Array.from({ length: n }, (_, i) => i + 1), [n, 1], 'int32'),
    tf.tensor2d(new Int32Array(n * 4).map((_, j) => click[j % 4]), [n, 4], 'int32'),
  ], { batchSize: n }) as tf.Tensor);
  const scores = await out.data();
  out.dispose();
  return Array.from(scores, (score, i) => ({ item: i + 1, score }))
    .sort((a, b) => b.score - a.score || a.item - b.item).slice(0, 5).map((r) => r.item);
}

const top5 = async (model: ReturnType<typeof sasrec>, numItems = NUM_ITEMS) =>
  (await recommend(model, HISTORY, { numItems, k: 5 })).map((r) => r.item);

describe('the item-vector cache of recommend', () => {
  it('is built once per model, rebuilt for another catalogue size, freed on release', async () => {
    const model = sasrec(1);
    const other = sasrec(2);
    const before = tf.memory().numTensors;
    expect(await top5(model)).toEqual(await tiledTop(model));
    const cached = tf.memory().numTensors;
    expect(cached).toBe(before + 1); // one [dim + 1, numItems] table
    await top5(model);
    expect(tf.memory().numTensors).toBe(cached);
    expect(await top5(model, 12)).toEqual(await tiledTop(model, 12));
    expect(tf.memory().numTensors).toBe(cached);
    expect(await top5(other)).toEqual(await tiledTop(other));
    expect(tf.memory().numTensors).toBe(cached + 1);
    releaseItemVectors(model);
    expect(tf.memory().numTensors).toBe(cached);
    releaseItemVectors();
    expect(tf.memory().numTensors).toBe(before);
    // Released is not broken: the next call rebuilds.
    expect(await top5(model)).toEqual(await tiledTop(model));
    releaseItemVectors();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('follows the weights: after training or setWeights the results are fresh, never stale', async () => {
    const model = sasrec(3);
    const first = await top5(model);
    expect(first).toEqual(await tiledTop(model));
    // A few optimizer steps (tfjs assigns new buffers to the variables it updates).
    const ds = tinyData({ users: 4, rowsPerUser: 8, numItems: NUM_ITEMS, clickLength: 4, seed: 2 });
    model.compile({ optimizer: tf.train.adam(0.5), loss: (y: tf.Tensor, p: tf.Tensor) => tf.losses.sigmoidCrossEntropy(y, p) });
    const xs = [tf.tensor2d(ds.target, [ds.size, 1], 'int32'), tf.tensor2d(ds.click, [ds.size, 4], 'int32')];
    const ys = tf.tensor2d(ds.label, [ds.size, 1]);
    // No shuffle: fit's shuffle draws from Math.random, and some draws trained the model into near-ties
    // whose order differs in the last bit between the cached and the tiled path.
    await model.fit(xs, ys, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    tf.dispose([xs, ys]);
    const trained = await top5(model);
    expect(trained).toEqual(await tiledTop(model));
    // setWeights on the item side only.
    const bias = model.getLayer('itemBias');
    bias.setWeights([tf.tensor2d(Array.from({ length: NUM_ITEMS + 1 }, (_, i) => [i === 17 ? 1e6 : 0]))]);
    const boosted = await top5(model);
    expect(boosted[0]).toBe(17);
    expect(boosted).toEqual(await tiledTop(model));
    releaseItemVectors(model);
  });

  it('fails with a clear error when the model was disposed', async () => {
    const model = sasrec(4);
    await top5(model);
    for (const w of model.weights) {
      try {
        w.dispose();
      } catch {
        // Shared weight, already freed.
      }
    }
    await expect(recommend(model, HISTORY, { numItems: NUM_ITEMS })).rejects.toThrow(/disposed/);
    releaseItemVectors(model);
  });
});
