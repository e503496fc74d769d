// Tiny reference models and data for the model tests.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import type { CreateModelOptions } from '../../src/models/create_model';
import type { ModelKind } from '../../src/models/common/options';

export const KINDS: ModelKind[] = ['sasrec', 'gru4rec', 'din'];
export const NUM_ITEMS = 12;
export const CLICK_LENGTH = 5;

/** Small options for each architecture (fast to build and train). */
export function tinyOptions(kind: ModelKind, extra: Record<string, unknown> = {}): CreateModelOptions {
  const arch: Record<ModelKind, Record<string, unknown>> = {
    sasrec: { numHeads: 2, ffnMultiplier: 2 },
    gru4rec: {},
    din: { mlpUnits: [16, 8], attentionUnits: [8] },
  };
  return {
    model: kind, numItems: NUM_ITEMS, clickLength: CLICK_LENGTH, dim: 8, seed: 7,
    ...arch[kind], ...extra,
  } as CreateModelOptions;
}

/** Right-padded, left-padded, a single item, all padding. */
export const TARGETS = [[3], [5], [12], [1]];
export const CLICKS = [[1, 2, 3, 0, 0], [0, 0, 4, 5, 6], [7, 0, 0, 0, 0], [0, 0, 0, 0, 0]];

export function batch(): [tf.Tensor, tf.Tensor] {
  return [tf.tensor2d(TARGETS), tf.tensor2d(CLICKS)];
}

function mulberry(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Rows whose label says whether the target is among the clicks (2..5 distinct items, padded
 * right or left): learnable by every architecture.
 */
export function syntheticRows(n: number, seed: number) {
  const rand = mulberry(seed);
  const targets: number[][] = [];
  const clicks: number[][] = [];
  const labels: number[][] = [];
  for (let i = 0; i < n; i++) {
    const length = 2 + Math.floor(rand() * (CLICK_LENGTH - 1));
    const items: number[] = [];
    while (items.length < length) {
      const item = 1 + Math.floor(rand() * NUM_ITEMS);
      if (!items.includes(item)) items.push(item);
    }
    const positive = i % 2 === 0;
    let target = items[Math.floor(rand() * length)];
    while (!positive && items.includes(target)) target = 1 + Math.floor(rand() * NUM_ITEMS);
    const pad = new Array(CLICK_LENGTH - length).fill(0);
    clicks.push(rand() < 0.5 ? [...items, ...pad] : [...pad, ...items]);
    targets.push([target]);
    labels.push([positive ? 1 : 0]);
  }
  return { x: [tf.tensor2d(targets), tf.tensor2d(clicks)], y: tf.tensor2d(labels) };
}

/** Mean BCE of the model's logits. */
export function bce(model: tfl.LayersModel, x: tf.Tensor[], y: tf.Tensor): number {
  return tf.tidy(() => tf.losses.sigmoidCrossEntropy(y, model.predict(x) as tf.Tensor).dataSync()[0]);
}

/** Compiles with Adam and BCE on logits, as the training code does. */
export function compileForLogits(model: tfl.LayersModel, learningRate = 0.02): void {
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.sigmoidCrossEntropy(yTrue, yPred),
  });
}

/** Runs `fn` several times and returns how many tensors were left allocated. */
export function leakedTensors(fn: () => tf.Tensor | tf.Tensor[], times = 3): number {
  tf.dispose(fn());
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) tf.dispose(fn());
  return tf.memory().numTensors - before;
}
