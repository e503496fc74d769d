/**
 * The DUET primitives on the wasm backend (duet-tf's default without tfjs-node): the same
 * weights give the same predictions and gradients as on cpu, and a DUET model trains there.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/use_backend';
import { gatherLastValid } from '../../src/layers/ops/last_valid';
import { parameterGenerator } from '../../src/layers/parameter_generator';
import { duetWrap } from '../../src/wrap/duet_wrap';
import { splitDuet } from '../../src/wrap/split_duet';

interface Snapshot { prediction: number[]; grads: number[][]; split: number[]; loss: number[] }

function build() {
  const features = tfl.input({ shape: [6], name: 'features' });
  const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(features);
  const out = tfl.layers.dense({ units: 1, name: 'out', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tfl.SymbolicTensor;
  const base = tfl.model({ inputs: features, outputs: out });
  return duetWrap(base, {
    condition: { length: 5, name: 'history' },
    generator: { vocabSize: 30, embeddingDim: 8, encoder: 'gru', init: 'glorot', stableWeights: true, seed: 4 },
  });
}

async function run(): Promise<Snapshot> {
  const model = build();
  const x = tf.tensor2d(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [4, 6]);
  const ids = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [0, 0, 9, 10, 11], [12, 0, 0, 0, 0]]);
  const y = tf.tensor2d([[1], [0], [1], [0]]);
  const prediction = Array.from((model.predict([x, ids]) as tf.Tensor).dataSync());
  const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, model.predict([x, ids]) as tf.Tensor) as tf.Scalar, variables);
  const gradValues = variables.map((v) => Array.from(grads[v.name].dataSync()));
  const { generator, device } = splitDuet(model);
  const split = Array.from((device.predict([x, generator.predict(ids) as tf.Tensor]) as tf.Tensor).dataSync());
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  const history = await model.fit([x, ids], y, { epochs: 3, batchSize: 4, verbose: 0, shuffle: false });
  return { prediction, grads: gradValues, split, loss: history.history.loss as number[] };
}

/** Largest relative difference between two arrays of equal length. */
function closeArrays(a: number[], b: number[]): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
  expect(a.length).toBe(b.length);
  return worst;
}

describe('DUET primitives on wasm', () => {
  let cpu: Snapshot;
  let wasm: Snapshot;
  beforeAll(async () => {
    cpu = await run();
    expect(await useBackend('wasm')).toBe('wasm');
    wasm = await run();
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('predicts like cpu, also split into generator and device', () => {
    expect(closeArrays(cpu.prediction, wasm.prediction)).toBeLessThan(1e-5);
    expect(closeArrays(cpu.split, wasm.split)).toBeLessThan(1e-5);
    expect(closeArrays(wasm.prediction, wasm.split)).toBeLessThan(1e-5);
  });

  it('has the same gradients for every weight, generator included', () => {
    expect(cpu.grads.length).toBe(wasm.grads.length);
    cpu.grads.forEach((g, i) => expect(closeArrays(g, wasm.grads[i])).toBeLessThan(1e-4));
  });

  it('trains with the same losses', () => {
    expect(closeArrays(cpu.loss, wasm.loss)).toBeLessThan(1e-4);
    expect(wasm.loss[2]).toBeLessThan(wasm.loss[0]);
  });

  it("picks the last valid position on wasm as on cpu (wasm's OneHot ignores float32)", async () => {
    const x = tf.tensor3d([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [0, 0]]]);
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    expect(Array.from(gatherLastValid(x, mask).dataSync())).toEqual([5, 6, 9, 10]);
  });

  it('runs every generator option on wasm', async () => {
    for (const encoder of ['gru', 'mean', 'attention', 'last'] as const) {
      for (const decoder of ['full', 'lowrank'] as const) {
        const g = parameterGenerator({ layers: [{ name: 'a', inputDim: 4, outputDim: 3 }], vocabSize: 10, encoder, decoder });
        const out = g.apply(tf.tensor2d([[1, 2, 0], [0, 3, 4]])) as tf.Tensor;
        expect(out.shape).toEqual([2, 15]);
        expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
      }
    }
  });
});
