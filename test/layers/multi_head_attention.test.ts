import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { MultiHeadAttention, multiHeadAttention } from '../../src/layers/multi_head_attention';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { attentionWeightsOf, leakedTensors, maxDiff, random3d, refAttention } from './reference';

const B = 2;
const T = 3;
const D = 4;

/** Layer with random (non-zero) biases so the hand computation checks them too. */
function built(args: ConstructorParameters<typeof MultiHeadAttention>[0], tv = T, dv = D) {
  const layer = multiHeadAttention({ numHeads: 2, ...args });
  layer.apply([tf.zeros([1, T, D]), tf.zeros([1, tv, dv]), tf.ones([1, tv])]);
  // Seeds from 1: tfjs draws Gaussians from Math.random when the seed is 0.
  layer.setWeights(layer.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.7, 'float32', i + 1)));
  return layer;
}

describe('MultiHeadAttention', () => {
  it('has the query shape symbolically, for self- and cross-attention, with or without mask', () => {
    const x = tfl.input({ shape: [T, D] });
    const v = tfl.input({ shape: [5, 6] });
    const mask = tfl.input({ shape: [5], dtype: 'int32' });
    const self = multiHeadAttention({ numHeads: 2 }).apply(x) as tfl.SymbolicTensor;
    const cross = multiHeadAttention({ numHeads: 2 }).apply([x, v, mask]) as tfl.SymbolicTensor;
    expect(self.shape).toEqual([null, T, D]);
    expect(cross.shape).toEqual([null, T, D]);
    const layer = multiHeadAttention({ numHeads: 2, keyDim: 3 });
    layer.apply([x, v]);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([
      [D, 6], [6], [6, 6], [6], [6, 6], [6], [6, D], [D]]);
  });

  it('matches a hand computation (2 heads, D 4, T 3) with padding and causal masks', () => {
    for (const causal of [false, true]) {
      const layer = built({ causal });
      const x = random3d([B, T, D], 11);
      const mask = [[1, 1, 0], [0, 1, 1]];
      const y = layer.apply([tf.tensor(x), tf.tensor(x), tf.tensor(mask)]) as tf.Tensor;
      const w = attentionWeightsOf(layer);
      const expected = x.map((xb, b) => refAttention(xb, xb, w, 2, 2, mask[b], causal));
      expect(maxDiff(y, expected)).toBeLessThan(1e-5);
    }
  });

  it('matches a hand computation for cross-attention with keyDim ≠ D/numHeads and no biases', () => {
    const layer = built({ keyDim: 3, useBias: false }, 5, 6);
    expect(layer.trainableWeights).toHaveLength(4);
    const q = random3d([B, T, D], 3);
    const v = random3d([B, 5, 6], 4);
    const y = layer.apply([tf.tensor(q), tf.tensor(v)]) as tf.Tensor;
    const expected = q.map((qb, b) => refAttention(qb, v[b], attentionWeightsOf(layer), 2, 3,
      null, false));
    expect(maxDiff(y, expected)).toBeLessThan(1e-5);
  });

  it('gives zeros, not NaN, for rows that can see nothing', () => {
    const layer = built({ causal: true });
    const x = tf.randomNormal([B, T, D]);
    // Row 0 is all padding; row 1 is left-padded, so under causal its position 0 sees nothing.
    const y = layer.apply([x, x, tf.tensor2d([[0, 0, 0], [0, 1, 1]])]) as tf.Tensor;
    const values = y.arraySync() as number[][][];
    expect(values.flat(2).every(Number.isFinite)).toBe(true);
    // -0 counts as zero (the product of a negative bias and a zero mask).
    expect(values[0].flat().every((v) => v === 0)).toBe(true);
    expect(values[1][0].every((v) => v === 0)).toBe(true);
    expect(values[1][1].some((v) => v !== 0)).toBe(true);
  });

  it('ignores padded value positions and, when causal, future positions', () => {
    const layer = built({ causal: true });
    const x = tf.randomNormal([1, T, D], 0, 1, 'float32', 5);
    const mask = tf.tensor2d([[1, 0, 1]]);
    const y = layer.apply([x, x, mask]) as tf.Tensor;
    // Change the padded value position (index 1) only on the value side.
    const v = tf.concat([tf.slice(x, [0, 0, 0], [1, 1, D]), tf.fill([1, 1, D], 9),
      tf.slice(x, [0, 2, 0], [1, 1, D])], 1);
    expect(maxAbsDiff(y, layer.apply([x, v, mask]) as tf.Tensor)).toBeLessThan(1e-6);
    // Change the last position everywhere: earlier outputs must not move, the last one must.
    const x2 = tf.concat([tf.slice(x, [0, 0, 0], [1, 2, D]), tf.fill([1, 1, D], -3)], 1);
    const y2 = layer.apply([x2, x2, mask]) as tf.Tensor;
    expect(maxAbsDiff(tf.slice(y, [0, 0, 0], [1, 2, D]), tf.slice(y2, [0, 0, 0], [1, 2, D])))
      .toBeLessThan(1e-6);
    expect(maxAbsDiff(y, y2)).toBeGreaterThan(1e-3);
  });

  it('applies dropout only when training', () => {
    const layer = built({ dropout: 0.5 });
    const x = tf.randomNormal([B, T, D]);
    const a = layer.apply([x, x]) as tf.Tensor;
    expect(maxAbsDiff(a, layer.apply([x, x]) as tf.Tensor)).toBe(0);
    const trained = layer.apply([x, x], { training: true }) as tf.Tensor;
    expect(maxAbsDiff(a, trained)).toBeGreaterThan(1e-3);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const y = multiHeadAttention({ numHeads: 2, causal: true, dropout: 0.1 })
      .apply([x, x, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, mask], outputs: y });
    const loaded = await roundTrip(model);
    const layer = loaded.layers.find((l) => l instanceof MultiHeadAttention) as MultiHeadAttention;
    expect(layer.getConfig()).toMatchObject({ numHeads: 2, keyDim: 2, causal: true, dropout: 0.1 });
    const inputs = [tf.randomNormal([B, T, D]), tf.tensor2d([[1, 1, 0], [0, 1, 1]])];
    const diff = maxAbsDiff(model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor);
    expect(diff).toBeLessThan(1e-6);
  });

  it('has gradients matching finite differences for the input and every weight', () => {
    const layer = built({ causal: true });
    const x = tf.variable(tf.randomNormal([B, T, D], 0, 1, 'float32', 8));
    const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1]]);
    const r = tf.randomNormal([B, T, D], 0, 1, 'float32', 9);
    const loss = () => tf.sum(tf.mul(layer.apply([x, x, mask]) as tf.Tensor, r)) as tf.Scalar;
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    expectGradientsMatch(loss, [x, ...weights], { probes: 6 });
  });

  it('does not leak tensors over repeated predict', () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const y = multiHeadAttention({ numHeads: 2, causal: true }).apply([x, x, mask]);
    const model = tfl.model({ inputs: [x, mask], outputs: y as tfl.SymbolicTensor });
    const inputs = [tf.randomNormal([B, T, D]), tf.tensor2d([[1, 1, 0], [0, 0, 0]])];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes and options with messages naming the argument', () => {
    expect(() => multiHeadAttention().apply(tfl.input({ shape: [D] })))
      .toThrow(/'query' passed to 'MultiHeadAttention' must have shape \[batch, time, dim\].*\[batch, 4\]/);
    const x = tfl.input({ shape: [T, D] });
    expect(() => multiHeadAttention().apply([x, x, tfl.input({ shape: [T + 1] })]))
      .toThrow(/'mask' passed to 'MultiHeadAttention' must have shape \[batch, time\] matching 'value' \[batch, 3, 4\], got \[batch, 4\]/);
    expect(() => multiHeadAttention({ numHeads: 3 }).apply(x))
      .toThrow(/4 is not divisible by 3: pass 'keyDim'/);
    expect(() => multiHeadAttention({ numHeads: 0 })).toThrow(/'numHeads' passed to 'MultiHeadAttention' must be a positive integer, got 0/);
    expect(() => multiHeadAttention({ dropout: 1 })).toThrow(/'dropout'.*\[0, 1\), got 1/);
    const layer = built({});
    expect(() => layer.apply([tf.zeros([2, T, D]), tf.zeros([3, T, D])]))
      .toThrow(/'value' passed to 'MultiHeadAttention' must have the batch size of 'query'/);
  });
});
