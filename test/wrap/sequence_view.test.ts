import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { sequenceView, sequenceViewReason } from '../../src/wrap/sequence_view';
import { splitTwoTower } from '../../src/wrap/two_tower';

const NUM_ITEMS = 15;
const LENGTH = 6;
// Right-padded histories: positions count from the oldest item.
const CLICK = [[3, 7, 1, 9, 4, 0], [12, 5, 0, 0, 0, 0], [2, 8, 11, 6, 13, 14]];

function build(extra: Record<string, unknown>) {
  return createModel({
    numItems: NUM_ITEMS, clickLength: LENGTH, dim: 8, seed: 3, ...extra,
  } as CreateModelOptions).model;
}

/** Every valid position b · time + t of CLICK. */
function validPositions(click: number[][]): number[] {
  const out: number[] = [];
  click.forEach((row, b) => row.forEach((id, t) => { if (id > 0) out.push(b * row.length + t); }));
  return out;
}

/** The model's own user vector for each prefix click[b][0..t], one prefix at a time. */
function prefixVectors(model: ReturnType<typeof build>, click: number[][]): number[][] {
  const user = (splitTwoTower(model) as NonNullable<ReturnType<typeof splitTwoTower>>).user;
  const out: number[][] = [];
  for (const row of click) {
    row.forEach((id, t) => {
      if (id === 0) return;
      const prefix = [...row.slice(0, t + 1), ...new Array(LENGTH - t - 1).fill(0)];
      const v = user.predict(tf.tensor2d([prefix], [1, LENGTH])) as tf.Tensor;
      out.push(Array.from(v.dataSync()));
      v.dispose();
    });
  }
  return out;
}

function viewVectors(model: ReturnType<typeof build>, click: number[][], time = LENGTH): number[][] {
  const view = sequenceView(model);
  const trimmed = click.map((row) => row.slice(0, time));
  const ids = tf.tensor2d(trimmed, [click.length, time], 'int32');
  const positions = tf.tensor1d(validPositions(trimmed), 'int32');
  const v = view.userVectors(ids, positions, false);
  const rows = v.arraySync() as number[][];
  tf.dispose([ids, positions, v]);
  return rows;
}

function expectClose(a: number[][], b: number[][]): void {
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(b[i][j], 4)));
}

const VARIANTS: Array<[string, Record<string, unknown>]> = [
  ['sasrec base', { model: 'sasrec', numHeads: 2, ffnMultiplier: 1, numBlocks: 2 }],
  ['sasrec pre-norm, item bias', { model: 'sasrec', numHeads: 2, norm: 'pre', itemBias: true }],
  ['gru4rec base', { model: 'gru4rec' }],
  ...(['gru', 'mean', 'attention', 'last'] as const).map((encoder): [string, Record<string, unknown>] =>
    [`sasrec duet, ${encoder} encoder, low-rank`, {
      model: 'sasrec', numHeads: 2, variant: 'duet',
      generator: { encoder, decoder: 'lowrank', rank: 3, init: 'glorot' },
    }]),
  ['sasrec duet, full decoder, normalised condition', {
    model: 'sasrec', numHeads: 2, variant: 'duet',
    generator: { decoder: 'full', init: 'glorot', normalizeCondition: true },
  }],
  // The seq-loo-v1 design: a GRU over SASRec's position-embedded items generates userTower1.
  ['sasrec duet, positions condition, gru, full decoder, no sequenceTransform, pre-norm', {
    model: 'sasrec', numHeads: 2, numBlocks: 2, norm: 'pre', sequenceTransform: false, dropout: 0.3,
    variant: 'duet', dynamicLayers: ['userTower1'],
    generator: { condition: 'positions', encoder: 'gru', decoder: 'full', init: 'glorot' },
  }],
  ['sasrec duet, positions condition, low-rank, both tower layers', {
    model: 'sasrec', numHeads: 2, variant: 'duet',
    generator: { condition: 'positions', decoder: 'lowrank', rank: 3, init: 'glorot' },
  }],
  ['gru4rec duet, ids condition, matrix core', {
    model: 'gru4rec', variant: 'duet',
    generator: { condition: 'ids', decoder: 'lowrank', lowrankCore: 'matrix', rank: 2, init: 'glorot' },
  }],
];

describe('sequenceView', () => {
  it.each(VARIANTS)('%s: each position equals the model on that prefix alone', (_, extra) => {
    const model = build(extra);
    const expected = prefixVectors(model, CLICK);
    const before = tf.memory().numTensors;
    expectClose(viewVectors(model, CLICK), expected);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs on a batch cut to fewer positions than clickLength', () => {
    const model = build({ model: 'sasrec', numHeads: 2, variant: 'duet', generator: { decoder: 'lowrank', init: 'glorot' } });
    const short = CLICK.map((row) => [...row.slice(0, 3), 0, 0, 0]);
    expectClose(viewVectors(model, short, 3), prefixVectors(model, short));
  });

  it.each([
    ['sasrec', { model: 'sasrec', numHeads: 2, numBlocks: 2 }],
    ['gru4rec duet', { model: 'gru4rec', variant: 'duet', generator: { decoder: 'lowrank', init: 'glorot' } }],
    ['sasrec duet, positions condition', {
      model: 'sasrec', numHeads: 2, numBlocks: 2, sequenceTransform: false, variant: 'duet',
      dynamicLayers: ['userTower1'], generator: { condition: 'positions', init: 'glorot' },
    }],
  ])('%s: changing item t+1 leaves every position up to t unchanged', (_, extra) => {
    const model = build(extra);
    const changed = CLICK.map((row) => [...row]);
    changed[0][3] = 10; // user 0's fourth item (position 3)
    const a = viewVectors(model, CLICK);
    const b = viewVectors(model, changed);
    // Rows 0..2 are user 0's positions 0..2; row 3 is position 3 itself.
    expectClose(a.slice(0, 3), b.slice(0, 3));
    expect(Math.max(...a[3].map((v, j) => Math.abs(v - b[3][j])))).toBeGreaterThan(1e-4);
    expectClose(a.slice(5), b.slice(5)); // the other users
  });

  it('trains every weight of the user side through the positions', () => {
    const model = build({ model: 'sasrec', numHeads: 2, variant: 'duet', generator: { decoder: 'lowrank' } });
    const view = sequenceView(model);
    const ids = tf.tensor2d(CLICK, [3, LENGTH], 'int32');
    const positions = tf.tensor1d(validPositions(CLICK), 'int32');
    const user = splitTwoTower(model)?.user as NonNullable<ReturnType<typeof splitTwoTower>>['user'];
    const variables = user.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(view.userVectors(ids, positions, true))) as tf.Scalar, variables);
    // With init 'zero' only the generator's core and deltas start at zero; its V gets gradient
    // through the static path being non-zero, so every user-side weight is reached.
    const reached = Object.values(grads).filter((g) => tf.max(tf.abs(g)).dataSync()[0] > 0).length;
    expect(reached).toBeGreaterThan(variables.length / 2);
    tf.dispose([ids, positions, value, ...Object.values(grads)]);
  });

  it('says why a model has no sequence view', () => {
    expect(sequenceViewReason(build({ model: 'sasrec', numHeads: 2, causal: false, numBlocks: 2 })))
      .toMatch(/TransformerBlock 'transformer1' is not causal/);
    expect(sequenceViewReason(build({ model: 'din' }))).toMatch(/not two-tower/);
    expect(sequenceViewReason(build({ model: 'sasrec', numHeads: 2, variant: 'duet', generator: { stableWeights: true } })))
      .toMatch(/Stable Weight Adapter/);
    expect(sequenceViewReason(build({ model: 'gru4rec' }))).toBeNull();
    expect(() => sequenceView(build({ model: 'din' }))).toThrow(/'sequenceView': model 'din' has no sequence view/);
  });
});
