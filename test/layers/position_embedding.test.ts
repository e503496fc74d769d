import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { PositionEmbedding, positionEmbedding } from '../../src/layers/position_embedding';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { leakedTensors, maxDiff, random2d, random3d } from './reference';

/** Gradients of a masked `[2, 3, 4]` input and of `layer`'s table against finite differences. */
function expectMaskedGradientsMatch(layer: PositionEmbedding): void {
  const x = tf.variable(tf.randomNormal([2, 3, 4], 0, 1, 'float32', 3));
  const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1]]);
  const r = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 4);
  const loss = () => tf.sum(tf.mul(tf.square(layer.apply([x, mask]) as tf.Tensor), r)) as tf.Scalar;
  loss();
  expectGradientsMatch(loss, [x, layer.trainableWeights[0].read() as tf.Variable]);
}

describe('PositionEmbedding', () => {
  it('keeps the input shape symbolically and owns one [maxLength, dim] table', () => {
    const x = tfl.input({ shape: [3, 4] });
    const layer = positionEmbedding();
    expect((layer.apply(x) as tfl.SymbolicTensor).shape).toEqual([null, 3, 4]);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([[3, 4]]);
    expect(layer.maxLength).toBe(3);
    const free = tfl.input({ shape: [null, 4] });
    const long = positionEmbedding({ maxLength: 6 });
    expect((long.apply([free, tfl.input({ shape: [null] })]) as tfl.SymbolicTensor).shape)
      .toEqual([null, null, 4]);
    expect(long.trainableWeights[0].shape).toEqual([6, 4]);
  });

  it('adds P[t] at position t, uses the table prefix for shorter inputs, zeroes padding', () => {
    const layer = positionEmbedding({ maxLength: 4 });
    layer.apply(tf.zeros([1, 4, 2]));
    const table = random2d([4, 2], 1);
    layer.setWeights([tf.tensor(table)]);
    const x = random3d([2, 3, 2], 2);
    const mask = [[0, 1, 1], [1, 1, 0]];
    const expected = x.map((xb, b) => xb.map((row, t) => row.map((v, d) => (v + table[t][d]) * mask[b][t])));
    expect(maxDiff(layer.apply([tf.tensor(x), tf.tensor(mask)]) as tf.Tensor, expected)).toBeLessThan(1e-6);
    const plain = x.map((xb) => xb.map((row, t) => row.map((v, d) => v + table[t][d])));
    expect(maxDiff(layer.apply(tf.tensor(x)) as tf.Tensor, plain)).toBeLessThan(1e-6);
  });

  it("origin 'end' counts back from each row's newest valid item, on either padding", () => {
    const layer = positionEmbedding({ maxLength: 4, origin: 'end' });
    layer.apply(tf.zeros([1, 4, 2]));
    const table = random2d([4, 2], 1);
    layer.setWeights([tf.tensor(table)]);
    const x = random3d([3, 3, 2], 2);
    const mask = [[1, 1, 0], [0, 1, 1], [1, 0, 1]];
    // Row 0: items at 0, 1 → positions 2, 3; row 1: items at 1, 2 → 2, 3; row 2: items at 0, 2 → 2, 3.
    const index = [[2, 3, 0], [0, 2, 3], [2, 0, 3]];
    const expected = x.map((xb, b) => xb.map((row, t) => row.map((v, d) => (v + table[index[b][t]][d]) * mask[b][t])));
    expect(maxDiff(layer.apply([tf.tensor(x), tf.tensor(mask)]) as tf.Tensor, expected)).toBeLessThan(1e-6);
    // Without a mask every position is valid: the last one gets maxLength − 1.
    const plain = x.map((xb) => xb.map((row, t) => row.map((v, d) => v + table[t + 1][d])));
    expect(maxDiff(layer.apply(tf.tensor(x)) as tf.Tensor, plain)).toBeLessThan(1e-6);
    expect(() => positionEmbedding({ origin: 'middle' as never }))
      .toThrow(`'origin' passed to 'PositionEmbedding' must be 'start' or 'end', got "middle"`);
  });

  it('scale multiplies x before the positions are added', () => {
    const layer = positionEmbedding({ maxLength: 3, scale: 8 });
    layer.apply(tf.zeros([1, 3, 2]));
    const table = random2d([3, 2], 1);
    layer.setWeights([tf.tensor(table)]);
    const x = random3d([2, 3, 2], 2);
    const expected = x.map((xb) => xb.map((row, t) => row.map((v, d) => 8 * v + table[t][d])));
    expect(maxDiff(layer.apply(tf.tensor(x)) as tf.Tensor, expected)).toBeLessThan(1e-5);
    expect(() => positionEmbedding({ scale: 0 })).toThrow("'scale' passed to 'PositionEmbedding' must be a positive number, got 0");
  });

  it("origin 'end' has gradients matching finite differences", () => {
    expectMaskedGradientsMatch(positionEmbedding({ maxLength: 4, origin: 'end' }));
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const x = tfl.input({ shape: [3, 4] });
    for (const [origin, scale] of [['start', 1], ['end', 2.5]] as const) {
      const model = tfl.model({ inputs: x, outputs: positionEmbedding({ maxLength: 5, origin, scale }).apply(x) as tfl.SymbolicTensor });
      const loaded = await roundTrip(model);
      const layer = loaded.layers.find((l) => l instanceof PositionEmbedding) as PositionEmbedding;
      expect(layer.getConfig()).toMatchObject({ maxLength: 5, initializer: 'glorotUniform', origin, scale });
      expect([layer.origin, layer.scale]).toEqual([origin, scale]);
      const input = tf.randomNormal([2, 3, 4]);
      expect(maxAbsDiff(model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor)).toBe(0);
    }
  });

  it('has gradients matching finite differences', () => {
    expectMaskedGradientsMatch(positionEmbedding());
  });

  it('does not leak tensors over repeated predict', () => {
    const x = tfl.input({ shape: [3, 4] });
    const mask = tfl.input({ shape: [3] });
    const y = positionEmbedding().apply([x, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, mask], outputs: y });
    const inputs = [tf.randomNormal([2, 3, 4]), tf.ones([2, 3])];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes with messages naming the argument', () => {
    expect(() => positionEmbedding().apply(tfl.input({ shape: [4] })))
      .toThrow(/'x' passed to 'PositionEmbedding' must have shape \[batch, time, dim\]/);
    expect(() => positionEmbedding({ maxLength: 2 }).apply(tfl.input({ shape: [3, 4] })))
      .toThrow(/'x' passed to 'PositionEmbedding' must have at most maxLength = 2 time steps, got \[batch, 3, 4\]/);
    expect(() => positionEmbedding().apply(tfl.input({ shape: [null, 4] })))
      .toThrow(/'maxLength' of 'PositionEmbedding' must be given when the input's time length is unknown/);
    const x = tfl.input({ shape: [3, 4] });
    expect(() => positionEmbedding().apply([x, tfl.input({ shape: [3, 1] })]))
      .toThrow(/'mask' passed to 'PositionEmbedding' must have shape \[batch, time\]/);
    const built = positionEmbedding({ maxLength: 3 });
    built.apply(tf.zeros([1, 3, 4]));
    expect(() => built.apply(tf.zeros([1, 4, 4]))).toThrow(/at most maxLength = 3/);
  });
});
