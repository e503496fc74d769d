// Small models following the duet-tf model contract, and tiny datasets, for the train/eval tests.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { createRng } from '../../src/data/rng';
import { markTestSet } from '../../src/data/test_marks';
import type { DuetDataset } from '../../src/data/types';
import { duetWrap } from '../../src/wrap/duet_wrap';

export interface TinyModelOptions {
  numItems: number;
  clickLength: number;
  triggerLength?: number;
  /** Adds a `user` input with its own embedding of `numUsers + 1` rows. */
  numUsers?: number;
  dim?: number;
  seed?: number;
  /** Input dtype; `float32` mimics `tfl.input` without a dtype. */
  dtype?: 'int32' | 'float32';
}

/**
 * target → item embedding; click (and trigger) → same embedding, mean-pooled; optional user
 * embedding; concatenated → Dense(8, relu) 'hidden' → Dense(1) 'logit'.
 */
export function tinyModel(o: TinyModelOptions): tfl.LayersModel {
  const dim = o.dim ?? 6;
  const seed = o.seed ?? 1;
  const dtype = o.dtype ?? 'int32';
  const init = (s: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: s });
  const target = tfl.input({ shape: [1], name: 'target', dtype });
  const click = tfl.input({ shape: [o.clickLength], name: 'click', dtype });
  const inputs = [target, click];
  const items = tfl.layers.embedding({ inputDim: o.numItems + 1, outputDim: dim, embeddingsInitializer: init(seed), name: 'items' });
  const parts = [
    tfl.layers.flatten().apply(items.apply(target)) as tfl.SymbolicTensor,
    tfl.layers.globalAveragePooling1d({}).apply(items.apply(click)) as tfl.SymbolicTensor,
  ];
  if (o.triggerLength !== undefined) {
    const trigger = tfl.input({ shape: [o.triggerLength], name: 'trigger', dtype });
    inputs.push(trigger);
    parts.push(tfl.layers.globalAveragePooling1d({}).apply(items.apply(trigger)) as tfl.SymbolicTensor);
  }
  if (o.numUsers !== undefined) {
    const user = tfl.input({ shape: [1], name: 'user', dtype });
    inputs.push(user);
    const users = tfl.layers.embedding({ inputDim: o.numUsers + 1, outputDim: dim, embeddingsInitializer: init(seed + 7), name: 'users' });
    parts.push(tfl.layers.flatten().apply(users.apply(user)) as tfl.SymbolicTensor);
  }
  const joined = tfl.layers.concatenate().apply(parts);
  const hidden = tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }).apply(joined);
  const logit = tfl.layers.dense({ units: 1, name: 'logit', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 2 }) }).apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: logit, name: 'tiny' });
}

/** {@link tinyModel} wrapped with duetWrap, conditioned on the `click` input. */
export function tinyDuetModel(o: TinyModelOptions): tfl.LayersModel {
  return duetWrap(tinyModel(o), {
    condition: { input: 'click' },
    generator: { vocabSize: o.numItems + 1, embeddingDim: 4, encoder: 'mean', init: 'glorot', seed: 3 },
  });
}

/** A copy of `model` with the same weights (a separate set of variables). */
export async function cloneModel(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const copy = await tfl.models.modelFromJSON({ modelTopology: JSON.parse(JSON.stringify(model.toJSON(null, false))) });
  copy.setWeights(model.getWeights());
  return copy;
}

/** Every weight's values, copied out. */
export function weightValues(model: tfl.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
}

/** Largest absolute difference between two weight lists. */
export function maxWeightDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((w, i) => w.forEach((v, j) => { m = Math.max(m, Math.abs(v - b[i][j])); }));
  return m;
}

export interface TinyDataOptions {
  users: number;
  rowsPerUser: number;
  numItems: number;
  clickLength: number;
  triggerLength?: number;
  seed?: number;
  /** The label of a row; default: the target is odd (learnable from the target alone). */
  rule?: (target: number, click: Int32Array, user: number) => number;
  /** Mark as a test set (as a split reader would). */
  test?: boolean;
}

/** Rows grouped by user (ids 1..users), random targets and right-padded click rows. */
export function tinyData(o: TinyDataOptions): DuetDataset {
  const rng = createRng(o.seed ?? 0);
  const L = o.clickLength;
  const T = o.triggerLength ?? 2;
  const n = o.users * o.rowsPerUser;
  const rule = o.rule ?? ((t) => t % 2);
  const ds: DuetDataset = {
    size: n, clickLength: L, triggerLength: T,
    user: new Int32Array(n), target: new Int32Array(n),
    trigger: new Int32Array(n * T), click: new Int32Array(n * L),
    label: new Float32Array(n), numItems: o.numItems, numUsers: o.users,
  };
  for (let r = 0; r < n; r++) {
    const user = 1 + Math.floor(r / o.rowsPerUser);
    const length = 1 + rng.int(L);
    const click = new Int32Array(L);
    for (let t = 0; t < length; t++) click[t] = 1 + rng.int(o.numItems);
    ds.user[r] = user;
    ds.target[r] = 1 + rng.int(o.numItems);
    ds.click.set(click, r * L);
    ds.trigger.set(click.subarray(Math.max(0, length - T), length), r * T);
    ds.label[r] = rule(ds.target[r], click, user);
  }
  return o.test ? markTestSet(ds) : ds;
}

/** A quick logit check outside the code under test: `model.predict` on all rows at once. */
export function predictAll(model: tfl.LayersModel, ds: DuetDataset): Float32Array {
  return tf.tidy(() => {
    const byName: Record<string, tf.Tensor> = {
      target: tf.tensor2d(ds.target, [ds.size, 1], 'int32'),
      user: tf.tensor2d(ds.user, [ds.size, 1], 'int32'),
      click: tf.tensor2d(ds.click, [ds.size, ds.clickLength], 'int32'),
      trigger: tf.tensor2d(ds.trigger, [ds.size, ds.triggerLength], 'int32'),
    };
    const xs = model.inputs.map((t) => byName[t.sourceLayer.name]);
    return (model.predict(xs) as tf.Tensor).dataSync().slice() as Float32Array;
  });
}
