import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import {
  TransformerBlock, type TransformerBlockArgs, transformerBlock,
} from '../../src/layers/transformer_block';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';
import {
  addRow, attentionWeightsOf, leakedTensors, type M, matmul, maxDiff, random3d, refAttention,
  refLayerNorm, weightsOf,
} from './reference';

const B = 2;
const T = 3;
const D = 4;

function built(args: TransformerBlockArgs) {
  const layer = transformerBlock({ numHeads: 2, ffnMultiplier: 2, ...args });
  layer.apply([tf.zeros([1, T, D]), tf.ones([1, T])]);
  // Seeds from 1: tfjs draws Gaussians from Math.random when the seed is 0.
  layer.setWeights(layer.getWeights().map((w, i) =>
    tf.add(tf.randomNormal(w.shape, 0, 0.5, 'float32', i + 1), layer.weights[i].originalName.endsWith('gamma') ? 1 : 0)));
  return layer;
}

const erf = (x: number): number => {
  // Abramowitz–Stegun 7.1.26 (error < 1.5e-7).
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
    0.254829592) * t * Math.exp(-a * a);
  return s * y;
};

/** The block for one sample in plain JS. */
function refBlock(layer: TransformerBlock, x: M, mask: number[]): M {
  const w = weightsOf(layer);
  const att = attentionWeightsOf(layer, 'attention_');
  const act = layer.activation === 'gelu' ? (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2)) :
    (v: number) => Math.max(v, 0);
  const ln = (a: M, which: string) => refLayerNorm(a, w[`${which}_norm_gamma`],
    w[`${which}_norm_beta`], layer.epsilon);
  const attend = (a: M) => refAttention(a, a, att, layer.numHeads, layer.keyDim as number, mask,
    layer.causal);
  const ffn = (a: M) => addRow(matmul(addRow(matmul(a, w.ffn_kernel1), w.ffn_bias1)
    .map((r) => r.map(act)), w.ffn_kernel2), w.ffn_bias2);
  const add = (a: M, b: M) => a.map((r, i) => r.map((v, j) => v + b[i][j]));
  let y: M;
  if (layer.norm === 'pre') {
    const h = add(x, attend(ln(x, 'attention')));
    y = add(h, ffn(ln(h, 'ffn')));
  } else {
    const h = ln(add(x, attend(x)), 'attention');
    y = ln(add(h, ffn(h)), 'ffn');
  }
  return y.map((r, t) => r.map((v) => v * mask[t]));
}

describe('TransformerBlock', () => {
  it('keeps the input shape symbolically and owns all its weights', () => {
    const x = tfl.input({ shape: [T, D] });
    const layer = transformerBlock({ numHeads: 2 });
    expect((layer.apply([x, tfl.input({ shape: [T] })]) as tfl.SymbolicTensor).shape)
      .toEqual([null, T, D]);
    // 4 attention kernels + 4 biases, 2 LayerNorms × 2, FFN 2 kernels + 2 biases.
    expect(layer.trainableWeights).toHaveLength(16);
    expect(layer.trainableWeights.find((w) => w.originalName.endsWith('ffn_kernel1'))?.shape)
      .toEqual([D, 4 * D]);
    expect((transformerBlock({ numHeads: 2 }).apply(x) as tfl.SymbolicTensor).shape)
      .toEqual([null, T, D]);
  });

  it('matches a hand computation for pre/post norm, relu/gelu, causal or not', () => {
    const cases: TransformerBlockArgs[] = [
      { norm: 'pre', activation: 'relu', causal: true },
      { norm: 'post', activation: 'gelu', causal: false },
      { norm: 'pre', activation: 'gelu', causal: false, useBias: false },
    ];
    for (const args of cases) {
      const layer = built(args);
      const x = random3d([B, T, D], 21);
      const mask = [[0, 1, 1], [1, 1, 0]];
      const y = layer.apply([tf.tensor(x), tf.tensor(mask)]) as tf.Tensor;
      const expected = x.map((xb, b) => refBlock(layer, xb, mask[b]));
      expect(maxDiff(y, expected), JSON.stringify(args)).toBeLessThan(1e-4);
    }
  });

  it('zeroes padded positions, ignores their content, and is causal when asked', () => {
    const layer = built({ causal: true });
    const x = tf.randomNormal([1, T, D], 0, 1, 'float32', 2);
    const mask = tf.tensor2d([[0, 1, 1]]);
    const y = layer.apply([x, mask]) as tf.Tensor;
    expect((tf.slice(y, [0, 0, 0], [1, 1, D]).dataSync() as Float32Array).every((v) => v === 0))
      .toBe(true);
    const x2 = tf.concat([tf.fill([1, 1, D], 7), tf.slice(x, [0, 1, 0], [1, 2, D])], 1);
    expect(maxAbsDiff(y, layer.apply([x2, mask]) as tf.Tensor)).toBeLessThan(1e-5);
    const x3 = tf.concat([tf.slice(x, [0, 0, 0], [1, 2, D]), tf.fill([1, 1, D], -2)], 1);
    const y3 = layer.apply([x3, mask]) as tf.Tensor;
    expect(maxAbsDiff(tf.slice(y, [0, 0, 0], [1, 2, D]), tf.slice(y3, [0, 0, 0], [1, 2, D])))
      .toBeLessThan(1e-5);
    expect(maxAbsDiff(y, y3)).toBeGreaterThan(1e-3);
  });

  it('applies dropout only when training', () => {
    const layer = built({ dropout: 0.3 });
    const x = tf.randomNormal([B, T, D]);
    const a = layer.apply(x) as tf.Tensor;
    expect(maxAbsDiff(a, layer.apply(x) as tf.Tensor)).toBe(0);
    expect(maxAbsDiff(a, layer.apply(x, { training: true }) as tf.Tensor)).toBeGreaterThan(1e-3);
  });

  it('survives a save/load round trip with equal predictions', async () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const args: TransformerBlockArgs = { numHeads: 2, norm: 'post', activation: 'gelu', causal: true, ffnMultiplier: 2 };
    const y = transformerBlock(args).apply([x, mask]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, mask], outputs: y });
    const loaded = await roundTrip(model);
    const layer = loaded.layers.find((l) => l instanceof TransformerBlock) as TransformerBlock;
    expect(layer.getConfig()).toMatchObject({ ...args, keyDim: 2, epsilon: 1e-6 });
    const inputs = [tf.randomNormal([B, T, D]), tf.tensor2d([[1, 1, 0], [0, 1, 1]])];
    expect(maxAbsDiff(model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor))
      .toBeLessThan(1e-6);
  });

  it('has gradients matching finite differences (gelu, so no kinks) for input and weights', () => {
    for (const norm of ['pre', 'post'] as const) {
      const layer = built({ norm, activation: 'gelu', causal: true });
      const x = tf.variable(tf.randomNormal([B, T, D], 0, 1, 'float32', 6));
      const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1]]);
      const r = tf.randomNormal([B, T, D], 0, 1, 'float32', 7);
      const loss = () => tf.sum(tf.mul(layer.apply([x, mask]) as tf.Tensor, r)) as tf.Scalar;
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      expectGradientsMatch(loss, [x, ...weights], { probes: 3 });
    }
  });

  it('trains every weight with model.fit', async () => {
    const x = tfl.input({ shape: [T, D] });
    const layer = transformerBlock({ numHeads: 2, ffnMultiplier: 1 });
    const model = tfl.model({ inputs: x, outputs: layer.apply(x) as tfl.SymbolicTensor });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const before = layer.getWeights().map((w) => w.clone());
    await model.fit(tf.randomNormal([4, T, D]), tf.randomNormal([4, T, D]), { epochs: 1, verbose: 0 });
    const after = layer.getWeights();
    before.forEach((w, i) => expect(maxAbsDiff(w, after[i]), layer.weights[i].name).toBeGreaterThan(0));
  });

  it('does not leak tensors over repeated predict', () => {
    const x = tfl.input({ shape: [T, D] });
    const mask = tfl.input({ shape: [T] });
    const y = transformerBlock({ numHeads: 2, causal: true }).apply([x, mask]);
    const model = tfl.model({ inputs: [x, mask], outputs: y as tfl.SymbolicTensor });
    const inputs = [tf.randomNormal([B, T, D]), tf.tensor2d([[1, 1, 0], [0, 0, 0]])];
    expect(leakedTensors(() => model.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('rejects wrong shapes and options with messages naming the argument', () => {
    expect(() => transformerBlock().apply(tfl.input({ shape: [T] })))
      .toThrow(/'x' passed to 'TransformerBlock' must have shape \[batch, time, dim\]/);
    const x = tfl.input({ shape: [T, D] });
    expect(() => transformerBlock().apply([x, tfl.input({ shape: [T + 2] })]))
      .toThrow(/'mask' passed to 'TransformerBlock' must have shape \[batch, time\] matching 'x' \[batch, 3, 4\], got \[batch, 5\]/);
    expect(() => transformerBlock().apply([x, x, x])).toThrow(/'TransformerBlock' expects inputs \[x, mask\?\], got 3 input\(s\)/);
    expect(() => transformerBlock({ norm: 'middle' as 'pre' })).toThrow(/'norm' passed to 'TransformerBlock' must be 'pre' or 'post', got 'middle'/);
    expect(() => transformerBlock({ activation: 'tanh' as 'relu' })).toThrow(/'activation'.*'relu' or 'gelu'/);
    expect(() => transformerBlock({ ffnMultiplier: 1.5 })).toThrow(/'ffnMultiplier'.*positive integer/);
  });
});
