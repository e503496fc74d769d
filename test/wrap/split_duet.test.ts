import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { dynamicDense } from '../../src/layers/dynamic_dense';
import { parameterGenerator } from '../../src/layers/parameter_generator';
import { duetWrap } from '../../src/wrap/duet_wrap';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';

function wrapped(condition: 'shared' | 'new') {
  const features = tfl.input({ shape: [6], name: 'features' });
  const history = tfl.input({ shape: [5], name: 'history' });
  // The history also feeds the static part, so in 'shared' mode the device still needs it.
  const pooled = tfl.layers.flatten().apply(tfl.layers.embedding({ inputDim: 20, outputDim: 2, name: 'emb' }).apply(history));
  const joined = tfl.layers.concatenate().apply([features, pooled as tfl.SymbolicTensor]);
  const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(joined);
  const out = tfl.layers.dense({ units: 1, name: 'out' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: [features, history], outputs: out, name: 'm' });
  return duetWrap(model, {
    condition: condition === 'shared' ? { input: 'history' } : { length: 4, name: 'recent' },
    generator: { vocabSize: 20, init: 'glorot', encoder: 'gru' },
  });
}

const X = tf.randomNormal([3, 6], 0, 1, 'float32', 2);
const H = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0]]);
const R = tf.tensor2d([[3, 2, 0, 0], [11, 12, 13, 14], [0, 0, 0, 0]]);

describe('splitDuet', () => {
  it('generator.predict then device.predict equals the DUET model (condition also used on device)', () => {
    const duet = wrapped('shared');
    const { generator, device, layout } = splitDuet(duet);
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['history']);
    expect(device.inputs.map((t) => t.sourceLayer.name)).toEqual(['features', 'history', 'duetParams']);
    expect(layout.slices.map((s) => [s.name, s.offset, s.size])).toEqual([['hidden', 0, 16 * 8 + 8], ['out', 136, 9]]);
    const params = generator.predict(H) as tf.Tensor;
    expect(params.shape).toEqual([3, layout.total]);
    const split = device.predict([X, H, params]) as tf.Tensor;
    expect(maxAbsDiff(split, duet.predict([X, H]) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('with a separate condition input, the device never sees the sequence', () => {
    const duet = wrapped('new');
    const { generator, device } = splitDuet(duet);
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['recent']);
    expect(device.inputs.map((t) => t.sourceLayer.name)).toEqual(['features', 'history', 'duetParams']);
    expect(device.layers.some((l) => l.getClassName() === 'DuetParameterGenerator')).toBe(false);
    const split = device.predict([X, H, generator.predict(R) as tf.Tensor]) as tf.Tensor;
    expect(maxAbsDiff(split, duet.predict([X, H, R]) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('each part saves and loads on its own and still composes to the DUET model', async () => {
    const duet = wrapped('new');
    const parts = splitDuet(duet);
    const generator = await roundTrip(parts.generator);
    const device = await roundTrip(parts.device);
    const split = device.predict([X, H, generator.predict(R) as tf.Tensor]) as tf.Tensor;
    expect(maxAbsDiff(split, duet.predict([X, H, R]) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('works on a hand-built model with an embeddings-input generator', () => {
    const ids = tfl.input({ shape: [4], name: 'ids' });
    const x = tfl.input({ shape: [3], name: 'x' });
    const emb = tfl.layers.embedding({ inputDim: 10, outputDim: 5 }).apply(ids) as tfl.SymbolicTensor;
    const mask = tfl.input({ shape: [4], name: 'mask' });
    const g = parameterGenerator({ layers: [{ name: 'dyn', inputDim: 3, outputDim: 2 }], input: 'embeddings', encoder: 'mean' });
    const p = g.apply([emb, mask]) as tfl.SymbolicTensor;
    const y = dynamicDense({ units: 2, name: 'dyn' }).apply([x, p]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [ids, x, mask], outputs: y });
    const { generator, device } = splitDuet(model);
    expect(generator.inputs.map((t) => t.sourceLayer.name)).toEqual(['ids', 'mask']);
    expect(device.inputs.map((t) => t.sourceLayer.name)).toEqual(['x', 'duetParams']);
    const idsV = tf.tensor2d([[1, 2, 0, 0]]);
    const maskV = tf.tensor2d([[1, 1, 0, 0]]);
    const xV = tf.tensor2d([[1, -1, 0.5]]);
    const split = device.predict([xV, generator.predict([idsV, maskV]) as tf.Tensor]) as tf.Tensor;
    expect(maxAbsDiff(split, model.predict([idsV, xV, maskV]) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('rejects a model without exactly one generator', () => {
    const plain = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    expect(() => splitDuet(plain)).toThrow("'splitDuet' needs a model with exactly one ParameterGenerator call, model");
    expect(() => splitDuet(null as unknown as tfl.LayersModel)).toThrow("'model' passed to 'splitDuet' must be a tfjs-layers LayersModel");
  });
});
