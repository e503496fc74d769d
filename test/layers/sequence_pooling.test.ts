import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { SequencePooling, sequencePooling } from '../../src/layers/sequence_pooling';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { leakedTensors, maxDiff } from './reference';

// Distinct, well-separated values: max has no ties and no kink within finite-difference reach.
const X = [
  [[1, -4], [5, 2], [-3, 8]],
  [[0.5, 3], [-2, -6], [7, 1.5]],
  [[2.5, -1], [-5, 4.5], [6, -7]],
  [[9, 3.5], [-8, 1], [4, -2.5]],
];
// Right-padded, left-padded, with a hole, all padding.
const MASK = [[1, 1, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0]];

function handPool(mode: string): number[][] {
  return X.map((seq, b) => {
    const valid = seq.filter((_, t) => MASK[b][t] !== 0);
    if (valid.length === 0) return [0, 0];
    return [0, 1].map((d) => {
      const col = valid.map((row) => row[d]);
      if (mode === 'last') return col[col.length - 1];
      if (mode === 'mean') return col.reduce((a, v) => a + v, 0) / col.length;
      return Math.max(...col);
    });
  });
}

describe('SequencePooling', () => {
  it('outputs [batch, dim] symbolically, with or without mask', () => {
    const x = tfl.input({ shape: [5, 3] });
    for (const mode of ['last', 'mean', 'max'] as const) {
      expect((sequencePooling({ mode }).apply([x, tfl.input({ shape: [5] })]) as tfl.SymbolicTensor).shape)
        .toEqual([null, 3]);
    }
    expect((sequencePooling().apply(x) as tfl.SymbolicTensor).shape).toEqual([null, 3]);
  });

  it('matches a hand computation for right-, left-, hole- and all-padded rows in each mode', () => {
    for (const mode of ['last', 'mean', 'max'] as const) {
      const y = sequencePooling({ mode }).apply([tf.tensor(X), tf.tensor(MASK, undefined, 'int32')]);
      expect(maxDiff(y as tf.Tensor, handPool(mode)), mode).toBeLessThan(1e-6);
    }
  });

  it('treats every position as valid without a mask', () => {
    const x = tf.tensor(X);
    expect(maxDiff(sequencePooling({ mode: 'last' }).apply(x) as tf.Tensor, X.map((s) => s[2]))).toBe(0);
    const mean = X.map((s) => [0, 1].map((d) => (s[0][d] + s[1][d] + s[2][d]) / 3));
    expect(maxDiff(sequencePooling({ mode: 'mean' }).apply(x) as tf.Tensor, mean)).toBeLessThan(1e-6);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const x = tfl.input({ shape: [3, 2] });
    const mask = tfl.input({ shape: [3] });
    const y = sequencePooling({ mode: 'max' }).apply([x, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, mask], outputs: y });
    const loaded = await roundTrip(model);
    const layer = loaded.layers.find((l) => l instanceof SequencePooling) as SequencePooling;
    expect(layer.mode).toBe('max');
    const inputs = [tf.tensor(X), tf.tensor(MASK)];
    expect(maxAbsDiff(model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('has gradients matching finite differences, zero at padding', () => {
    const x = tf.variable(tf.tensor(X));
    const mask = tf.tensor(MASK);
    const r = tf.tensor2d([[1, -2], [0.5, 3], [-1, 2], [4, 1]]);
    for (const mode of ['last', 'mean', 'max'] as const) {
      const layer = sequencePooling({ mode });
      const loss = () => tf.sum(tf.mul(layer.apply([x, mask]) as tf.Tensor, r)) as tf.Scalar;
      expectGradientsMatch(loss, [x], { probes: 12 });
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply([v, mask]) as tf.Tensor, r)))(x);
      const padded = tf.mul(g, tf.expandDims(tf.sub(1, mask), 2));
      expect(tf.max(tf.abs(padded)).dataSync()[0], mode).toBe(0);
    }
  });

  it('does not leak tensors over repeated predict', () => {
    const x = tfl.input({ shape: [3, 2] });
    const mask = tfl.input({ shape: [3] });
    const y = sequencePooling({ mode: 'last' }).apply([x, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, mask], outputs: y });
    const inputs = [tf.tensor(X), tf.tensor(MASK)];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
    const alone = sequencePooling({ mode: 'mean' });
    expect(leakedTensors(() => alone.apply(inputs[0]) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes and modes with messages naming the argument', () => {
    expect(() => sequencePooling().apply(tfl.input({ shape: [3] })))
      .toThrow(/'x' passed to 'SequencePooling' must have shape \[batch, time, dim\]/);
    expect(() => sequencePooling().apply([tfl.input({ shape: [3, 2] }), tfl.input({ shape: [4] })]))
      .toThrow(/'mask' passed to 'SequencePooling' must have shape \[batch, time\] matching 'x' \[batch, 3, 2\], got \[batch, 4\]/);
    expect(() => sequencePooling().apply([tf.zeros([2, 3, 2]), tf.zeros([3, 3])]))
      .toThrow(/'mask' passed to 'SequencePooling' must have shape \[batch, time\]/);
    expect(() => sequencePooling({ mode: 'first' as 'last' }))
      .toThrow(/'mode' passed to 'SequencePooling' must be 'last', 'mean' or 'max', got 'first'/);
  });
});
