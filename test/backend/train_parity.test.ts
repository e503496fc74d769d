import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/use_backend';
import type { BackendName } from '../../src/backend/types';

// A small recommender trained with the ops duet-tf models use: embedding lookups (gather), a
// GRU cell (matMul on concat, sigmoid, tanh, slice), layer norm (mean, sub, square, rsqrt),
// dropout, a transposed matMul against the item table, softmax, sigmoid cross-entropy,
// clipByValue, where/greater, tile, oneHot, max, and Adam. Trained from identical weights on
// cpu and on wasm, the two must agree.

const VOCAB = 40;
const DIM = 8;
const SEQ = 5;
const BATCH = 12;
const STEPS = 4;

function floats(n: number, seed: number, scale = 0.3): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

function ints(n: number, seed: number, max: number): Int32Array {
  const f = floats(n, seed, 0.5);
  return Int32Array.from(f, (v) => Math.floor((v + 0.5) * max) % max);
}

const INIT: Record<string, { shape: number[]; values: Float32Array }> = {
  items: { shape: [VOCAB, DIM], values: floats(VOCAB * DIM, 1) },
  gruW: { shape: [2 * DIM, 3 * DIM], values: floats(2 * DIM * 3 * DIM, 2) },
  gruB: { shape: [3 * DIM], values: floats(3 * DIM, 3, 0.1) },
  gamma: { shape: [DIM], values: new Float32Array(DIM).fill(1) },
  dense: { shape: [DIM, DIM], values: floats(DIM * DIM, 4) },
  denseB: { shape: [DIM], values: floats(DIM, 5, 0.1) },
};

// Item 0 is padding and appears often: its gradient row sums many contributions.
const history = Int32Array.from(ints(BATCH * SEQ, 6, VOCAB), (v, i) => (i % SEQ < 2 ? 0 : v));
const targets = ints(BATCH, 7, VOCAB);
const labels = Float32Array.from(ints(BATCH, 8, 2));

function forward(vars: Record<string, tf.Variable>, step: number): tf.Scalar {
  const ids = tf.tensor2d(history, [BATCH, SEQ], 'int32');
  const emb = tf.gather(vars.items, ids); // [B, SEQ, DIM]
  let h = tf.zeros([BATCH, DIM]);
  for (let t = 0; t < SEQ; t++) {
    const x = tf.reshape(tf.slice(emb, [0, t, 0], [BATCH, 1, DIM]), [BATCH, DIM]);
    const gates = tf.add(tf.matMul(tf.concat([x, h], 1), vars.gruW), vars.gruB);
    const z = tf.sigmoid(tf.slice(gates, [0, 0], [BATCH, DIM]));
    const r = tf.sigmoid(tf.slice(gates, [0, DIM], [BATCH, DIM]));
    const n = tf.tanh(tf.add(tf.slice(gates, [0, 2 * DIM], [BATCH, DIM]), tf.mul(r, h)));
    h = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
  }
  // Layer norm.
  const mean = tf.mean(h, -1, true);
  const centred = tf.sub(h, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  h = tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5))), vars.gamma);
  h = tf.dropout(h, 0.2, undefined, 100 + step);
  // Dense with a clipped leaky activation written with where/greater.
  let u = tf.add(tf.matMul(h, vars.dense), vars.denseB);
  u = tf.clipByValue(tf.where(tf.greater(u, 0), u, tf.mul(u, 0.1)), -3, 3);
  // Score the target item and every item (transposed matMul against the table).
  const target = tf.gather(vars.items, tf.tensor1d(targets, 'int32'));
  const logit = tf.sum(tf.mul(u, target), -1);
  const all = tf.matMul(u, vars.items, false, true); // [B, VOCAB]
  const probs = tf.softmax(all);
  const picked = tf.sum(tf.mul(probs, tf.oneHot(tf.tensor1d(targets, 'int32'), VOCAB)), -1);
  const nll = tf.neg(tf.mean(tf.log(tf.add(picked, 1e-7))));
  const bce = tf.losses.sigmoidCrossEntropy(tf.tensor1d(labels), logit);
  // Softplus, exp, max and tile as small regularisers.
  const reg = tf.mul(
    1e-3,
    tf.add(tf.mean(tf.softplus(tf.tile(tf.reshape(vars.denseB, [1, DIM]), [2, 1]))),
      tf.mean(tf.exp(tf.neg(tf.max(tf.abs(vars.gruW), 0))))),
  );
  return tf.add(tf.add(nll, bce), reg) as tf.Scalar;
}

interface Trace {
  losses: number[];
  weights: Record<string, Float32Array>;
  ranked: number[];
}

function train(): Trace {
  const vars: Record<string, tf.Variable> = {};
  for (const [name, { shape, values }] of Object.entries(INIT)) {
    const initial = tf.tensor(values, shape);
    vars[name] = tf.variable(initial, true, `${name}_${tf.getBackend()}`);
    initial.dispose();
  }
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const loss = optimizer.minimize(() => forward(vars, step), true, Object.values(vars));
    losses.push(loss!.dataSync()[0]);
    loss!.dispose();
  }
  const ranked = tf.tidy(() => {
    const scores = tf.matMul(tf.slice(vars.items, [0, 0], [3, DIM]), vars.items, false, true);
    const top = tf.topk(scores, 4);
    return [...top.indices.dataSync(), ...tf.argMax(scores, 1).dataSync()];
  });
  const weights: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(vars)) weights[name] = v.dataSync() as Float32Array;
  optimizer.dispose();
  tf.dispose(Object.values(vars));
  return { losses, weights, ranked };
}

async function trainOn(backend: BackendName): Promise<Trace> {
  expect(await useBackend(backend)).toBe(backend);
  const before = tf.memory().numTensors;
  const trace = train();
  expect(tf.memory().numTensors).toBe(before);
  return trace;
}

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('training on wasm matches cpu', () => {
  it('gives the same losses and weights after a few Adam steps', async () => {
    const cpu = await trainOn('cpu');
    const wasm = await trainOn('wasm');
    await tf.setBackend('cpu');

    // The model learns: a shared failure (e.g. NaNs) would not pass as agreement.
    expect(cpu.losses.every(Number.isFinite)).toBe(true);
    expect(cpu.losses[STEPS - 1]).toBeLessThan(cpu.losses[0]);
    for (let i = 0; i < STEPS; i++) expect(wasm.losses[i]).toBeCloseTo(cpu.losses[i], 4);
    for (const name of Object.keys(INIT)) {
      const a = wasm.weights[name];
      const b = cpu.weights[name];
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst, name).toBeLessThan(1e-4);
      // Every weight moved, so every gradient path (the padding row included) ran.
      const init = INIT[name].values;
      expect(b.some((v, i) => Math.abs(v - init[i]) > 1e-3), name).toBe(true);
    }
    expect(wasm.ranked).toEqual(cpu.ranked);
  });

  it('fits the same tfjs-layers model (Embedding, GRU, LayerNormalization, Dropout, Dense)', async () => {
    const fit = async (backend: BackendName) => {
      expect(await useBackend(backend)).toBe(backend);
      const before = tf.memory().numTensors;
      const input = tfl.input({ shape: [SEQ], dtype: 'int32' });
      const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
      let x = tfl.layers.embedding({
        inputDim: VOCAB, outputDim: DIM, maskZero: true,
        embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 1 }),
      }).apply(input) as tfl.SymbolicTensor;
      x = tfl.layers.gru({ units: DIM, kernelInitializer: seeded(2), recurrentInitializer: seeded(3) })
        .apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.layerNormalization().apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.dropout({ rate: 0.2, seed: 4 }).apply(x) as tfl.SymbolicTensor;
      const output = tfl.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: seeded(5) })
        .apply(x) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: input, outputs: output });
      const optimizer = tf.train.adam(0.01);
      model.compile({ optimizer, loss: 'binaryCrossentropy' });
      const xs = tf.tensor2d(history, [BATCH, SEQ], 'int32');
      const ys = tf.tensor2d(labels, [BATCH, 1]);
      const h = await model.fit(xs, ys, { epochs: 3, batchSize: 6, shuffle: false, verbose: 0 });
      const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
      tf.dispose([xs, ys]);
      model.dispose();
      optimizer.dispose(); // not owned by the model when passed as an instance
      expect(tf.memory().numTensors).toBe(before);
      return { losses: h.history.loss as number[], weights };
    };
    const cpu = await fit('cpu');
    const wasm = await fit('wasm');
    await tf.setBackend('cpu');
    expect(cpu.losses[2]).toBeLessThan(cpu.losses[0]);
    for (let i = 0; i < 3; i++) expect(wasm.losses[i]).toBeCloseTo(cpu.losses[i], 4);
    expect(wasm.weights.length).toBe(cpu.weights.length);
    cpu.weights.forEach((w, k) => {
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - wasm.weights[k][i]));
      expect(worst, `weight ${k}`).toBeLessThan(1e-4);
    });
  });
});
