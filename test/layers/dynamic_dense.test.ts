import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { DynamicDense, dynamicDense } from '../../src/layers/dynamic_dense';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';

function denseModel(inputDim: number, units: number, activation: string, residual = false) {
  const x = tfl.input({ shape: [inputDim] });
  const size = inputDim * units + units;
  const params = tfl.input({ shape: [size] });
  const layer = dynamicDense({ units, activation, residual });
  const y = layer.apply([x, params]) as tfl.SymbolicTensor;
  return { model: tfl.model({ inputs: [x, params], outputs: y }), layer, size };
}

describe('DynamicDense', () => {
  it('has the symbolic output shape of a Dense layer, for rank 2 and rank 3 inputs', () => {
    const x2 = tfl.input({ shape: [5] });
    const x3 = tfl.input({ shape: [7, 5] });
    const p = tfl.input({ shape: [5 * 3 + 3] });
    expect((dynamicDense({ units: 3 }).apply([x2, p]) as tfl.SymbolicTensor).shape).toEqual([null, 3]);
    expect((dynamicDense({ units: 3 }).apply([x3, p]) as tfl.SymbolicTensor).shape).toEqual([null, 7, 3]);
  });

  it('equals tf.layers.dense when every sample gets the same kernel and bias', () => {
    const dense = tfl.layers.dense({ units: 3, activation: 'tanh', inputShape: [4] });
    const reference = tfl.sequential({ layers: [dense] });
    const [kernel, bias] = dense.getWeights();
    const { model } = denseModel(4, 3, 'tanh');
    const x = tf.randomNormal([6, 4]);
    const flat = tf.concat([tf.reshape(kernel, [-1]), bias]);
    const params = tf.tile(tf.expandDims(flat, 0), [6, 1]);
    const expected = reference.predict(x) as tf.Tensor;
    const actual = model.predict([x, params]) as tf.Tensor;
    expect(maxAbsDiff(expected, actual)).toBeLessThan(1e-6);
  });

  it('matches a hand computation with a different kernel per sample', () => {
    const { model } = denseModel(2, 2, 'linear');
    // sample 0: W = [[1, 2], [3, 4]], b = [0.5, -0.5]; sample 1: W = [[0, 1], [1, 0]], b = [1, 1]
    const params = tf.tensor2d([[1, 2, 3, 4, 0.5, -0.5], [0, 1, 1, 0, 1, 1]]);
    const x = tf.tensor2d([[1, 1], [2, 3]]);
    const y = (model.predict([x, params]) as tf.Tensor).arraySync();
    // [1,1]·W0 + b0 = [4.5, 5.5]; [2,3]·W1 + b1 = [4, 3]
    expect(y).toEqual([[4.5, 5.5], [4, 3]]);
  });

  it('applies a per-sample kernel at every time step of a rank-3 input', () => {
    const x = tfl.input({ shape: [2, 2] });
    const p = tfl.input({ shape: [4] });
    const y = dynamicDense({ units: 2, useBias: false }).apply([x, p]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, p], outputs: y });
    const out = model.predict([
      tf.tensor3d([[[1, 0], [0, 1]], [[1, 2], [3, 4]]]),
      tf.tensor2d([[1, 2, 3, 4], [2, 0, 0, 2]]),
    ]) as tf.Tensor;
    // sample 0 with W=[[1,2],[3,4]]: rows [1,2] and [3,4]; sample 1 with W=2I: doubled.
    expect(out.arraySync()).toEqual([[[1, 2], [3, 4]], [[2, 4], [6, 8]]]);
  });

  it('in residual mode adds the static kernel: a zero delta is a plain Dense layer', () => {
    const { model, layer, size } = denseModel(3, 2, 'relu', true);
    const [kernel, bias] = layer.getWeights();
    const x = tf.randomNormal([4, 3]);
    const y = model.predict([x, tf.zeros([4, size])]) as tf.Tensor;
    const expected = tf.relu(tf.add(tf.matMul(x, kernel), bias));
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-6);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([[3, 2], [2]]);
  });

  it('reads its slice at paramOffset from a wider parameter vector', () => {
    const x = tfl.input({ shape: [1] });
    const p = tfl.input({ shape: [6] });
    const y = dynamicDense({ units: 1, paramOffset: 3 }).apply([x, p]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, p], outputs: y });
    const out = model.predict([tf.tensor2d([[2]]), tf.tensor2d([[9, 9, 9, 5, 1, 9]])]) as tf.Tensor;
    expect(out.arraySync()).toEqual([[11]]);
  });

  it('has gradients matching finite differences, for x, params and static weights', () => {
    const layer = new DynamicDense({ units: 3, activation: 'tanh', residual: true });
    const x = tf.variable(tf.randomNormal([2, 4], 0, 1, 'float32', 3));
    const params = tf.variable(tf.randomNormal([2, 15], 0, 0.5, 'float32', 4));
    layer.apply([x, params]);
    const variables = [x, params, ...layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val)];
    expectGradientsMatch(() => tf.sum(tf.square(layer.apply([x, params]) as tf.Tensor)) as tf.Scalar, variables);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const { model, size } = denseModel(3, 2, 'sigmoid', true);
    const loaded = await roundTrip(model);
    const x = tf.randomNormal([5, 3]);
    const p = tf.randomNormal([5, size]);
    expect(loaded.layers[2]).toBeInstanceOf(DynamicDense);
    expect(maxAbsDiff(model.predict([x, p]) as tf.Tensor, loaded.predict([x, p]) as tf.Tensor)).toBeLessThan(1e-6);
    expect((loaded.layers[2] as DynamicDense).getConfig()).toEqual((model.layers[2] as DynamicDense).getConfig());
  });

  it('does not leak tensors over repeated predictions', () => {
    const { model, size } = denseModel(3, 2, 'tanh', true);
    const x = tf.randomNormal([5, 3]);
    const p = tf.randomNormal([5, size]);
    tf.dispose(model.predict([x, p]) as tf.Tensor);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.dispose(model.predict([x, p]) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects wrong shapes and options with errors that name the problem', () => {
    const x = tfl.input({ shape: [4] });
    expect(() => dynamicDense({ units: 2 }).apply([x, tfl.input({ shape: [9] })]))
      .toThrow("'params' passed to 'DynamicDense' must have shape [batch, 10], got [batch, 9]");
    expect(() => dynamicDense({ units: 2, paramOffset: 5 }).apply([x, tfl.input({ shape: [12] })]))
      .toThrow("'params' passed to 'DynamicDense' must have shape [batch, >= 15] (offset 5 + 10), got [batch, 12]");
    expect(() => dynamicDense({ units: 2 }).apply([tfl.input({ shape: [2, 3, 4] }), tfl.input({ shape: [10] })]))
      .toThrow("'x' passed to 'DynamicDense' must have shape [batch, in] or [batch, time, in], got [batch, 2, 3, 4]");
    expect(() => dynamicDense({ units: 0 })).toThrow("'units' passed to 'DynamicDense' must be a positive integer, got 0");
    expect(() => dynamicDense({ units: 2, activation: 'wiggle' })).toThrow("unknown activation 'wiggle' passed to 'DynamicDense'");
    const layer = dynamicDense({ units: 2 });
    layer.apply([x, tfl.input({ shape: [10] })]);
    expect(() => layer.apply([tf.ones([3, 4]), tf.ones([2, 10])]))
      .toThrow("'params' passed to 'DynamicDense' must have one row per sample of 'x' (3), got 2");
  });
});
