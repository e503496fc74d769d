import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import {
  TargetAttention, type TargetAttentionArgs, targetAttention,
} from '../../src/layers/target_attention';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import { leakedTensors, type M, maxDiff, random2d, random3d, weightsOf } from './reference';

const B = 2;
const T = 3;
const D = 4;

function built(args: TargetAttentionArgs) {
  const layer = targetAttention({ hiddenUnits: [5, 3], ...args });
  layer.apply([tf.zeros([1, T, D]), tf.zeros([1, D]), tf.ones([1, T])]);
  // Seeds from 1: tfjs draws Gaussians from Math.random when the seed is 0.
  layer.setWeights(layer.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.5, 'float32', i + 1)));
  return layer;
}

/** DIN's activation unit for one sample in plain JS. */
function refTargetAttention(layer: TargetAttention, h: M, t: number[], mask: number[]): number[] {
  const w = weightsOf(layer);
  const act = { sigmoid: (v: number) => 1 / (1 + Math.exp(-v)), relu: (v: number) => Math.max(v, 0) }[
    layer.activation as 'sigmoid' | 'relu'];
  const scores = h.map((ht) => {
    let a = [...ht, ...t, ...ht.map((v, d) => v - t[d]), ...ht.map((v, d) => v * t[d])];
    const names = [...layer.hiddenUnits.map((_, i) => String(i)), 'output'];
    names.forEach((n, i) => {
      const k = w[`kernel_${n}`];
      const b = w[`bias_${n}`];
      a = b.map((bj, j) => a.reduce((s, v, r) => s + v * k[r][j], bj));
      if (i < layer.hiddenUnits.length) a = a.map(act);
    });
    return a[0];
  });
  let weights = scores.map((s, i) => s * mask[i]);
  if (layer.normalize === 'softmax') {
    const valid = scores.filter((_, i) => mask[i] !== 0);
    const max = Math.max(...valid);
    const z = valid.reduce((acc, s) => acc + Math.exp(s - max), 0);
    weights = scores.map((s, i) => (mask[i] !== 0 ? Math.exp(s - max) / z : 0));
  }
  return t.map((_, d) => h.reduce((acc, ht, i) => acc + weights[i] * ht[d], 0));
}

describe('TargetAttention', () => {
  it('outputs [batch, dim] symbolically and owns its MLP weights', () => {
    const history = tfl.input({ shape: [T, D] });
    const target = tfl.input({ shape: [D] });
    const layer = targetAttention();
    const y = layer.apply([history, target, tfl.input({ shape: [T] })]) as tfl.SymbolicTensor;
    expect(y.shape).toEqual([null, D]);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([[4 * D, 36], [36], [36, 1], [1]]);
    expect((targetAttention().apply([history, target]) as tfl.SymbolicTensor).shape).toEqual([null, D]);
  });

  it('matches a hand computation, with and without softmax normalisation', () => {
    const cases: TargetAttentionArgs[] = [
      { activation: 'sigmoid', normalize: 'none' }, { activation: 'relu', normalize: 'softmax' },
    ];
    for (const args of cases) {
      const layer = built(args);
      const h = random3d([B, T, D], 1);
      const t = random2d([B, D], 2);
      const mask = [[1, 0, 1], [0, 1, 1]];
      const y = layer.apply([tf.tensor(h), tf.tensor(t), tf.tensor(mask)]) as tf.Tensor;
      const expected = h.map((hb, b) => refTargetAttention(layer, hb, t[b], mask[b]));
      expect(maxDiff(y, expected), JSON.stringify(args)).toBeLessThan(1e-5);
    }
  });

  it('ignores padded positions; an all-padding row gives zeros in both modes', () => {
    for (const normalize of ['none', 'softmax'] as const) {
      const layer = built({ normalize });
      const h = tf.randomNormal([1, T, D], 0, 1, 'float32', 3);
      const t = tf.randomNormal([1, D], 0, 1, 'float32', 4);
      const mask = tf.tensor2d([[1, 1, 0]]);
      const y = layer.apply([h, t, mask]) as tf.Tensor;
      const h2 = tf.concat([tf.slice(h, [0, 0, 0], [1, 2, D]), tf.fill([1, 1, D], 50)], 1);
      expect(maxAbsDiff(y, layer.apply([h2, t, mask]) as tf.Tensor)).toBeLessThan(1e-6);
      const none = layer.apply([h, t, tf.zeros([1, T])]) as tf.Tensor;
      expect(Array.from(none.dataSync()).every((v) => v === 0), normalize).toBe(true);
    }
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const history = tfl.input({ shape: [T, D] });
    const target = tfl.input({ shape: [D] });
    const mask = tfl.input({ shape: [T] });
    const args = { hiddenUnits: [6, 2], activation: 'relu', normalize: 'softmax' } as const;
    const y = targetAttention({ ...args, hiddenUnits: [...args.hiddenUnits] })
      .apply([history, target, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [history, target, mask], outputs: y });
    const loaded = await roundTrip(model);
    const layer = loaded.layers.find((l) => l instanceof TargetAttention) as TargetAttention;
    expect(layer.getConfig()).toMatchObject(args);
    const inputs = [tf.randomNormal([B, T, D]), tf.randomNormal([B, D]), tf.tensor2d([[1, 1, 0], [0, 1, 1]])];
    expect(maxAbsDiff(model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor))
      .toBeLessThan(1e-6);
  });

  it('has gradients matching finite differences for both inputs and every weight', () => {
    for (const normalize of ['none', 'softmax'] as const) {
      const layer = built({ normalize });
      const h = tf.variable(tf.randomNormal([B, T, D], 0, 1, 'float32', 5));
      const t = tf.variable(tf.randomNormal([B, D], 0, 1, 'float32', 6));
      const mask = tf.tensor2d([[1, 0, 1], [1, 1, 1]]);
      const r = tf.randomNormal([B, D], 0, 1, 'float32', 7);
      const loss = () => tf.sum(tf.mul(layer.apply([h, t, mask]) as tf.Tensor, r)) as tf.Scalar;
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      expectGradientsMatch(loss, [h, t, ...weights], { probes: 4 });
    }
  });

  it('does not leak tensors over repeated predict', () => {
    const history = tfl.input({ shape: [T, D] });
    const target = tfl.input({ shape: [D] });
    const mask = tfl.input({ shape: [T] });
    const y = targetAttention({ normalize: 'softmax' }).apply([history, target, mask]);
    const model = tfl.model({ inputs: [history, target, mask], outputs: y as tfl.SymbolicTensor });
    const inputs = [tf.randomNormal([B, T, D]), tf.randomNormal([B, D]), tf.tensor2d([[1, 1, 0], [0, 0, 0]])];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes and options with messages naming the argument', () => {
    const history = tfl.input({ shape: [T, D] });
    expect(() => targetAttention().apply([history, tfl.input({ shape: [D + 1] })]))
      .toThrow(/'target' passed to 'TargetAttention' must have shape \[batch, 4\] matching 'history' \[batch, 3, 4\], got \[batch, 5\]/);
    expect(() => targetAttention().apply([tfl.input({ shape: [D] }), tfl.input({ shape: [D] })]))
      .toThrow(/'history' passed to 'TargetAttention' must have shape \[batch, time, dim\]/);
    expect(() => targetAttention().apply(history))
      .toThrow(/'TargetAttention' expects inputs \[history, target, mask\?\], got 1 input\(s\)/);
    expect(() => targetAttention().apply([history, tfl.input({ shape: [D] }), tfl.input({ shape: [T + 1] })]))
      .toThrow(/'mask' passed to 'TargetAttention' must have shape \[batch, time\] matching 'history'/);
    expect(() => targetAttention({ normalize: 'sum' as 'none' })).toThrow(/'normalize'.*'none' or 'softmax', got 'sum'/);
    expect(() => targetAttention({ hiddenUnits: [4, 0] })).toThrow(/'hiddenUnits\[1\]' passed to 'TargetAttention' must be a positive integer, got 0/);
    expect(() => targetAttention({ activation: 'dice' })).toThrow(/unknown activation 'dice' passed to 'TargetAttention'/);
  });
});
