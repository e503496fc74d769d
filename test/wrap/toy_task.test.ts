/**
 * The task DUET exists for: the best last layer differs per user. Each user belongs to a hidden
 * group visible only through the items in their history; the label is the sign of feature 0,
 * flipped for group B. A shared model seeing only the features cannot beat chance; the same
 * model wrapped with duetWrap (its last layers generated from the history) learns it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { duetWrap } from '../../src/wrap/duet_wrap';

const HISTORY = 5;
const ITEMS_PER_GROUP = 10;

function mulberry(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function toyData(n: number, seed: number) {
  const rand = mulberry(seed);
  const x = new Float32Array(n * 4);
  const ids = new Float32Array(n * HISTORY);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const groupB = rand() < 0.5;
    for (let f = 0; f < 4; f++) x[i * 4 + f] = rand() * 2 - 1;
    // Histories of 2..5 items from the group's own item range, right-padded with 0.
    const length = 2 + Math.floor(rand() * (HISTORY - 1));
    for (let t = 0; t < length; t++) {
      ids[i * HISTORY + t] = 1 + Math.floor(rand() * ITEMS_PER_GROUP) + (groupB ? ITEMS_PER_GROUP : 0);
    }
    y[i] = (x[i * 4] > 0) !== groupB ? 1 : 0;
  }
  return { x: tf.tensor2d(x, [n, 4]), ids: tf.tensor2d(ids, [n, HISTORY]), y: tf.tensor2d(y, [n, 1]) };
}

function accuracy(pred: tf.Tensor, y: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.greater(pred, 0.5), tf.greater(y, 0.5)), 'float32')).dataSync()[0]);
}

describe('toy task: the best layer differs per user', () => {
  it('a static model stays at chance; the duetWrap-ed model learns it', async () => {
    const train = toyData(2000, 1);
    const test = toyData(1000, 2);
    const features = tfl.input({ shape: [4], name: 'features' });
    const h = tfl.layers.dense({ units: 8, activation: 'tanh', name: 'hidden' }).apply(features);
    const out = tfl.layers.dense({ units: 1, activation: 'sigmoid', name: 'out' }).apply(h) as tfl.SymbolicTensor;
    const base = tfl.model({ inputs: features, outputs: out });
    base.compile({ optimizer: tf.train.adam(0.02), loss: 'binaryCrossentropy' });
    await base.fit(train.x, train.y, { epochs: 10, batchSize: 64, verbose: 0 });
    const staticAcc = accuracy(base.predict(test.x) as tf.Tensor, test.y);

    const duet = duetWrap(base, {
      condition: { length: HISTORY, name: 'history' },
      generator: { vocabSize: 2 * ITEMS_PER_GROUP + 1, embeddingDim: 8, encoder: 'mean', seed: 1 },
    });
    duet.compile({ optimizer: tf.train.adam(0.02), loss: 'binaryCrossentropy' });
    await duet.fit([train.x, train.ids], train.y, { epochs: 10, batchSize: 64, verbose: 0 });
    const duetAcc = accuracy(duet.predict([test.x, test.ids]) as tf.Tensor, test.y);

    console.log(`toy task accuracy: static ${staticAcc.toFixed(3)}, DUET ${duetAcc.toFixed(3)}`);
    expect(staticAcc).toBeGreaterThan(0.4);
    expect(staticAcc).toBeLessThan(0.6);
    expect(duetAcc).toBeGreaterThanOrEqual(0.9);
  });
});
