import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { Gru, gru } from '../../src/layers/gru';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { leakedTensors, type M, maxDiff, random2d, random3d } from './reference';

const B = 4;
const T = 3;
const D = 2;
const U = 3;
// Right-padded, left-padded, with a hole, all padding.
const MASK = [[1, 1, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0]];

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The GRU for one sample in plain JS, skipping padded steps. */
function refGru(x: M, mask: number[], kernel: M, recurrent: M, bias: number[]): number[] {
  const units = recurrent.length;
  let h = new Array(units).fill(0);
  x.forEach((row, t) => {
    if (mask[t] === 0) return;
    const proj = bias.map((b, j) => b + row.reduce((s, v, k) => s + v * kernel[k][j], 0));
    const rec = (v: number[], j: number) => v.reduce((s, hv, k) => s + hv * recurrent[k][j], 0);
    const z = h.map((_, j) => sigmoid(proj[j] + rec(h, j)));
    const r = h.map((_, j) => sigmoid(proj[units + j] + rec(h, units + j)));
    const rh = h.map((v, j) => v * r[j]);
    const cand = h.map((_, j) => Math.tanh(proj[2 * units + j] + rec(rh, 2 * units + j)));
    h = h.map((v, j) => z[j] * v + (1 - z[j]) * cand[j]);
  });
  return h;
}

function built(units = U) {
  const layer = gru({ units });
  layer.apply([tf.zeros([1, T, D]), tf.ones([1, T])]);
  const [k, r] = [random2d([D, 3 * units], 1), random2d([units, 3 * units], 2)];
  const b = random2d([1, 3 * units], 3)[0];
  layer.setWeights([tf.tensor(k), tf.tensor(r), tf.tensor(b)]);
  return { layer, k, r, b };
}

describe('Gru', () => {
  it('outputs [batch, units] symbolically and owns kernel, recurrent kernel and bias', () => {
    const x = tfl.input({ shape: [T, D] });
    const layer = gru({ units: U });
    expect((layer.apply([x, tfl.input({ shape: [T] })]) as tfl.SymbolicTensor).shape).toEqual([null, U]);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([[D, 3 * U], [U, 3 * U], [3 * U]]);
    const free = gru();
    expect((free.apply(x) as tfl.SymbolicTensor).shape).toEqual([null, D]);
    expect(free.units).toBe(D);
  });

  it('matches a hand computation for right-, left-, hole- and all-padded rows', () => {
    const { layer, k, r, b } = built();
    const x = random3d([B, T, D], 4);
    const y = layer.apply([tf.tensor(x), tf.tensor(MASK, undefined, 'int32')]) as tf.Tensor;
    const expected = x.map((xb, i) => refGru(xb, MASK[i], k, r, b));
    expect(maxDiff(y, expected)).toBeLessThan(1e-5);
    expect(expected[3].every((v) => v === 0)).toBe(true);
    // Without a mask every step counts.
    const all = layer.apply(tf.tensor(x)) as tf.Tensor;
    expect(maxDiff(all, x.map((xb) => refGru(xb, [1, 1, 1], k, r, b)))).toBeLessThan(1e-5);
  });

  it('gives the same state for the same items padded on the left or on the right', () => {
    const { layer } = built();
    const items = random2d([2, D], 5);
    const pad = [0, 0];
    const right = tf.tensor([[items[0], items[1], pad]]);
    const left = tf.tensor([[pad, items[0], items[1]]]);
    const a = layer.apply([right, tf.tensor2d([[1, 1, 0]])]) as tf.Tensor;
    const c = layer.apply([left, tf.tensor2d([[0, 1, 1]])]) as tf.Tensor;
    expect(maxAbsDiff(a, c)).toBeLessThan(1e-6);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const model = tfl.model({ inputs: [x, mask], outputs: gru({ units: U, name: 'enc' }).apply([x, mask]) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const layer = loaded.getLayer('enc') as Gru;
    expect(layer).toBeInstanceOf(Gru);
    expect(layer.getConfig()).toMatchObject({ units: U, recurrentInitializer: 'glorotUniform' });
    const inputs = [tf.tensor(random3d([B, T, D], 6)), tf.tensor(MASK)];
    expect(maxAbsDiff(model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('has gradients matching finite differences for input and weights, zero at padding', () => {
    const { layer } = built();
    const x = tf.variable(tf.tensor(random3d([B, T, D], 7)));
    const mask = tf.tensor(MASK);
    const target = tf.tensor(random2d([B, U], 8));
    const loss = () => tf.sum(tf.mul(layer.apply([x, mask]) as tf.Tensor, target)) as tf.Scalar;
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    expectGradientsMatch(loss, [x, ...weights], { probes: 6 });
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply([v, mask]) as tf.Tensor, target)))(x);
    expect(tf.max(tf.abs(tf.mul(g, tf.expandDims(tf.sub(1, mask), 2)))).dataSync()[0]).toBe(0);
  });

  it('trains with model.fit', async () => {
    const x = tfl.input({ shape: [T, D] });
    const layer = gru({ units: U });
    const model = tfl.model({ inputs: x, outputs: layer.apply(x) as tfl.SymbolicTensor });
    model.compile({ optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError' });
    const before = layer.getWeights().map((w) => w.clone());
    await model.fit(tf.randomNormal([4, T, D]), tf.randomNormal([4, U]), { epochs: 1, verbose: 0 });
    layer.getWeights().forEach((w, i) => expect(maxAbsDiff(w, before[i]), layer.weights[i].name).toBeGreaterThan(0));
  });

  it('does not leak tensors over repeated predict', () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const model = tfl.model({ inputs: [x, mask], outputs: gru().apply([x, mask]) as tfl.SymbolicTensor });
    const inputs = [tf.randomNormal([B, T, D]), tf.tensor(MASK)];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes and options with messages naming the argument', () => {
    expect(() => gru().apply(tfl.input({ shape: [T] })))
      .toThrow(/'x' passed to 'Gru' must have shape \[batch, time, dim\]/);
    expect(() => gru().apply([tfl.input({ shape: [T, D] }), tfl.input({ shape: [T + 1] })]))
      .toThrow(/'mask' passed to 'Gru' must have shape \[batch, time\] matching 'x' \[batch, 3, 2\], got \[batch, 4\]/);
    expect(() => gru({ units: 0 })).toThrow(/'units' passed to 'Gru' must be a positive integer, got 0/);
    expect(() => gru({ recurrentInitializer: 'orthogonal' })).toThrow(/unknown initializer 'orthogonal' passed to 'Gru'/);
  });
});
