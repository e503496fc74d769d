import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { dynamicDense } from '../../src/layers/dynamic_dense';
import { ParameterGenerator, parameterGenerator, ParameterGeneratorArgs } from '../../src/layers/parameter_generator';
import { expectGradientsMatch } from '../helpers/gradients';
import { maxAbsDiff, roundTrip } from '../helpers/round_trip';

const LAYERS = [{ name: 'a', inputDim: 6, outputDim: 4 }, { name: 'b', inputDim: 4, outputDim: 2, useBias: false }];
const TOTAL = 6 * 4 + 4 + 4 * 2;
const ENCODERS = ['gru', 'mean', 'attention', 'last'] as const;
const DECODERS = ['full', 'lowrank'] as const;

function variablesOf(layer: tfl.layers.Layer): tf.Variable[] {
  return layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

function make(args: Partial<ParameterGeneratorArgs> = {}): ParameterGenerator {
  const g = parameterGenerator({ layers: LAYERS, vocabSize: 30, embeddingDim: 5, seed: 7, ...args });
  g.apply(tfl.input({ shape: [6] }));
  return g;
}

const IDS = tf.tensor2d([[3, 4, 5, 0, 0, 0], [7, 8, 9, 10, 11, 12], [0, 0, 0, 0, 2, 1]]);

describe('ParameterGenerator', () => {
  it('outputs [batch, total] symbolically and for real, for every encoder and decoder', () => {
    for (const encoder of ENCODERS) {
      for (const decoder of DECODERS) {
        const g = parameterGenerator({ layers: LAYERS, vocabSize: 30, encoder, decoder });
        const out = g.apply(tfl.input({ shape: [6] })) as tfl.SymbolicTensor;
        expect(out.shape).toEqual([null, TOTAL]);
        expect((g.apply(IDS) as tf.Tensor).shape).toEqual([3, TOTAL]);
        expect(g.totalParams).toBe(TOTAL);
      }
    }
  });

  it('reads left- and right-padded sequences alike, for every encoder', () => {
    for (const encoder of ENCODERS) {
      const g = make({ encoder, stableWeights: true });
      const right = g.apply(tf.tensor2d([[3, 9, 4, 0, 0, 0]])) as tf.Tensor;
      const left = g.apply(tf.tensor2d([[0, 0, 0, 3, 9, 4]])) as tf.Tensor;
      expect(maxAbsDiff(right, left), encoder).toBeLessThan(1e-5);
      // ...and the order of the items matters to the order-aware encoders.
      const shuffled = g.apply(tf.tensor2d([[4, 3, 9, 0, 0, 0]])) as tf.Tensor;
      if (encoder === 'gru' || encoder === 'last') expect(maxAbsDiff(right, shuffled)).toBeGreaterThan(1e-4);
    }
  });

  it("encoder 'last' reads the last valid item and 'mean' the mean of the valid items", () => {
    const last = make({ encoder: 'last', normalizeCondition: false });
    const zLast = last.encode(tf.tensor2d([[0, 5, 6, 0]]));
    const zOnly6 = last.encode(tf.tensor2d([[6, 0, 0, 0]]));
    expect(maxAbsDiff(zLast, zOnly6)).toBeLessThan(1e-6);
    const mean = make({ encoder: 'mean', normalizeCondition: false });
    const zMean = mean.encode(tf.tensor2d([[5, 6, 0, 0]]));
    const zSame = mean.encode(tf.tensor2d([[6, 5, 5, 6]]));
    expect(maxAbsDiff(zMean, zSame)).toBeLessThan(1e-6);
  });

  it('accepts [embeddings, mask] input', () => {
    const g = parameterGenerator({ layers: LAYERS, input: 'embeddings', encoder: 'attention' });
    const out = g.apply([tfl.input({ shape: [4, 3] }), tfl.input({ shape: [4] })]) as tfl.SymbolicTensor;
    expect(out.shape).toEqual([null, TOTAL]);
    const emb = tf.randomNormal([2, 4, 3]);
    const full = g.apply([emb, tf.tensor2d([[1, 1, 0, 0], [1, 1, 1, 1]])]) as tf.Tensor;
    // Padding content is ignored: change the padded vectors of row 0.
    const changed = tf.concat([tf.slice(emb, [0, 0, 0], [1, 2, 3]), tf.fill([1, 2, 3], 9), ], 1);
    const other = g.apply([tf.concat([changed, tf.slice(emb, [1, 0, 0], [1, 4, 3])]), tf.tensor2d([[1, 1, 0, 0], [1, 1, 1, 1]])]) as tf.Tensor;
    expect(maxAbsDiff(full, other)).toBeLessThan(1e-6);
  });

  it('generates kernels with Glorot-like variance under the default init', () => {
    const big = [{ name: 'w', inputDim: 32, outputDim: 32 }];
    const ids = tf.randomUniform([256, 10], 1, 200, 'int32', 3);
    for (const decoder of DECODERS) {
      const g = parameterGenerator({ layers: big, vocabSize: 200, decoder, seed: 3 });
      const out = g.apply(ids) as tf.Tensor;
      const kernels = tf.slice(out, [0, 0], [256, 32 * 32]);
      const variance = tf.moments(kernels).variance.dataSync()[0];
      const glorot = 2 / 64;
      expect(variance, decoder).toBeGreaterThan(glorot * 0.6);
      expect(variance, decoder).toBeLessThan(glorot * 1.5);
      // Half of the variance is per sample: kernels differ between users.
      const perUser = tf.mean(tf.moments(kernels, 0).variance).dataSync()[0];
      expect(perUser, decoder).toBeGreaterThan(glorot * 0.2);
    }
  });

  it("with init 'zero' outputs zeros; setStaticWeights then makes every sample get those weights", () => {
    for (const decoder of DECODERS) {
      const g = make({ decoder, init: 'zero' });
      expect(tf.max(tf.abs(g.apply(IDS) as tf.Tensor)).dataSync()[0]).toBe(0);
      const kernel = tf.randomNormal([6, 4]);
      const bias = tf.tensor1d([1, 2, 3, 4]);
      g.setStaticWeights('a', kernel, bias);
      const out = g.apply(IDS) as tf.Tensor;
      const expected = tf.concat([tf.reshape(kernel, [-1]), bias, tf.zeros([8])]);
      for (let row = 0; row < 3; row++) {
        expect(maxAbsDiff(tf.squeeze(tf.slice(out, [row, 0], [1, TOTAL])), expected), decoder).toBeLessThan(1e-6);
      }
    }
  });

  it('bounds per-sample deviations with the Stable Weight Adapter', () => {
    const g = make({ stableWeights: true, init: 'zero' });
    // Force huge deviations: with A large, raw Δ is huge, but the adapter caps |Δ| at its bound.
    const kernel = g.trainableWeights.find((w) => w.name.endsWith('/kernel') && w.shape.length === 2 && w.shape[1] === TOTAL);
    expect(kernel).toBeDefined();
    kernel!.write(tf.randomNormal(kernel!.shape as number[], 0, 100, 'float32', 1));
    const out = g.apply(IDS) as tf.Tensor;
    const boundA = 3 * Math.sqrt(2 / (6 + 4));
    const maxA = tf.max(tf.abs(tf.slice(out, [0, 0], [3, 28]))).dataSync()[0];
    expect(maxA).toBeLessThanOrEqual(boundA + 1e-4);
    expect(maxA).toBeGreaterThan(boundA * 0.99);
  });

  it('has gradients matching finite differences, for every option', () => {
    const ids = tf.tensor2d([[3, 4, 5, 0], [0, 7, 8, 9]]);
    const cases: Partial<ParameterGeneratorArgs>[] = [
      ...ENCODERS.map((encoder) => ({ encoder })),
      { decoder: 'lowrank', lowrankCore: 'diag', rank: 2 },
      { decoder: 'lowrank', lowrankCore: 'matrix', rank: 2 },
      { stableWeights: true },
      { decoder: 'lowrank', stableWeights: true, rank: 2 },
      { normalizeCondition: false, encoder: 'mean' },
    ];
    for (const c of cases) {
      const g = parameterGenerator({ layers: [{ name: 'x', inputDim: 3, outputDim: 2 }], vocabSize: 12, embeddingDim: 4, seed: 5, ...c });
      g.apply(ids);
      const target = tf.randomNormal([2, 8], 0, 1, 'float32', 9);
      const loss = () => tf.sum(tf.mul(tf.tanh(g.apply(ids) as tf.Tensor), target)) as tf.Scalar;
      try {
        expectGradientsMatch(loss, variablesOf(g), { probes: 3, eps: 1e-3 });
      } catch (e) {
        throw new Error(`${JSON.stringify(c)}: ${(e as Error).message}`);
      }
    }
  });

  it('trains every weight it owns under fit, and they survive save/load', async () => {
    const ids = tfl.input({ shape: [6] });
    const x = tfl.input({ shape: [6] });
    const g = parameterGenerator({ layers: LAYERS, vocabSize: 30, embeddingDim: 5, encoder: 'attention', stableWeights: true, conditionDropout: 0.25 });
    const p = g.apply(ids) as tfl.SymbolicTensor;
    const h = dynamicDense({ units: 4, activation: 'tanh', paramOffset: 0 }).apply([x, p]);
    const y = dynamicDense({ units: 2, useBias: false, paramOffset: 28 }).apply([h as tfl.SymbolicTensor, p]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [ids, x], outputs: y });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const before = g.getWeights().map((w) => w.clone());
    const idsData = tf.tensor2d([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 0, 0], [8, 9, 10, 11, 12, 13], [14, 15, 0, 0, 0, 0]]);
    const xData = tf.randomNormal([4, 6]);
    await model.fit([idsData, xData], tf.randomNormal([4, 2]), { epochs: 3, batchSize: 4, verbose: 0 });
    const after = g.getWeights();
    expect(after.length).toBe(g.trainableWeights.length);
    after.forEach((w, i) => {
      // Every generator weight moved (the embedding rows of unused ids may not, so compare whole tensors).
      expect(maxAbsDiff(w, before[i]), g.trainableWeights[i].name).toBeGreaterThan(0);
    });
    const loaded = await roundTrip(model);
    expect(maxAbsDiff(loaded.predict([idsData, xData]) as tf.Tensor, model.predict([idsData, xData]) as tf.Tensor)).toBeLessThan(1e-6);
    const loadedGen = loaded.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator;
    expect(loadedGen.options).toEqual(g.options);
  });

  it('conditionDropout: in training, dropped rows get the history-free parameters; inference reads every history', () => {
    const rows = 200;
    const ids = tf.tensor2d(Array.from({ length: rows * 6 }, (_, i) => 1 + ((i * 7919) % 29)), [rows, 6]);
    const args = { encoder: 'mean', decoder: 'lowrank', normalizeCondition: false } as const;
    const g = make({ ...args, conditionDropout: 0.4 });
    const plain = make(args); // same seed, so the same weights
    expect(maxAbsDiff(g.apply(ids) as tf.Tensor, plain.apply(ids) as tf.Tensor)).toBe(0);
    expect(maxAbsDiff(g.apply(ids, { training: false }) as tf.Tensor, plain.apply(ids) as tf.Tensor)).toBe(0);

    const full = (plain.apply(ids) as tf.Tensor).arraySync() as number[][];
    const shared = (g.decode(tf.zeros([1, g.conditionDim]) as tf.Tensor2D).arraySync() as number[][])[0];
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
    const droppedRows = () => {
      const out = (g.apply(ids, { training: true }) as tf.Tensor).arraySync() as number[][];
      return out.map((row, r) => {
        expect(close(full[r], shared), `row ${r} must differ from the shared parameters`).toBe(false);
        const dropped = close(row, shared);
        expect(dropped || close(row, full[r]), `row ${r} is neither its own nor the shared parameters`).toBe(true);
        return dropped;
      });
    };
    const first = droppedRows();
    const count = first.filter(Boolean).length;
    expect(count).toBeGreaterThan(0.4 * rows - 30);
    expect(count).toBeLessThan(0.4 * rows + 30);
    // Each training call draws a new mask.
    expect(droppedRows()).not.toEqual(first);

    for (const bad of [1, -0.1, '0.5']) {
      expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 3, conditionDropout: bad as never }))
        .toThrow(`'conditionDropout' passed to 'ParameterGenerator' must be a number in [0, 1), got ${String(bad)}`);
    }
  });

  it('detachCondition: trains the generator but sends no gradient into its input embeddings', async () => {
    const emb = tf.variable(tf.randomNormal([3, 4, 3], 0, 1, 'float32', 11));
    const mask = tf.tensor2d([[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 1]]);
    const r = tf.randomNormal([3, TOTAL], 0, 1, 'float32', 12);
    const gradsOf = (detachCondition: boolean) => {
      const g = parameterGenerator({ layers: LAYERS, input: 'embeddings', seed: 3, detachCondition });
      g.apply([tfl.input({ shape: [4, 3] }), tfl.input({ shape: [4] })]);
      const out = g.apply([emb, mask]) as tf.Tensor;
      const own = variablesOf(g);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(g.apply([emb, mask]) as tf.Tensor, r)) as tf.Scalar, [emb, ...own]);
      return { g, out, input: grads[emb.name], own: own.map((v) => grads[v.name]) };
    };
    const attached = gradsOf(false);
    const detached = gradsOf(true);
    // The same parameters and the same gradients for the generator's own weights...
    expect(maxAbsDiff(detached.out, attached.out)).toBe(0);
    detached.own.forEach((g, i) => expect(maxAbsDiff(g, attached.own[i]), `weight ${i}`).toBeLessThan(1e-6));
    expect(Math.max(...detached.own.map((g) => tf.max(tf.abs(g)).dataSync()[0]))).toBeGreaterThan(0);
    // ...but none for the embeddings read, which do get one when attached.
    expect(tf.max(tf.abs(attached.input)).dataSync()[0]).toBeGreaterThan(1e-3);
    expect(tf.max(tf.abs(detached.input)).dataSync()[0]).toBe(0);

    const x = tfl.input({ shape: [4, 3] });
    const m = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: [x, m], outputs: detached.g.apply([x, m]) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    expect((loaded.layers.find((l) => l instanceof ParameterGenerator) as ParameterGenerator).options.detachCondition).toBe(true);

    expect(() => parameterGenerator({ layers: LAYERS, input: 'embeddings', detachCondition: 'yes' as never }))
      .toThrow(`'detachCondition' passed to 'ParameterGenerator' must be true or false, got yes`);
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 3, detachCondition: true }))
      .toThrow(`'detachCondition' passed to 'ParameterGenerator' needs input 'embeddings'`);
  });

  it('survives save/load with every encoder and decoder', async () => {
    for (const encoder of ENCODERS) {
      for (const decoder of DECODERS) {
        const ids = tfl.input({ shape: [6] });
        const g = parameterGenerator({ layers: LAYERS, vocabSize: 30, encoder, decoder, lowrankCore: 'matrix', rank: 3, stableWeights: true, conditionDim: 7 });
        const model = tfl.model({ inputs: ids, outputs: g.apply(ids) as tfl.SymbolicTensor });
        const loaded = await roundTrip(model);
        expect(maxAbsDiff(loaded.predict(IDS) as tf.Tensor, model.predict(IDS) as tf.Tensor), `${encoder}/${decoder}`).toBeLessThan(1e-6);
      }
    }
  });

  it('does not leak tensors over repeated predictions and train steps', () => {
    const g = make({ encoder: 'gru', stableWeights: true });
    const optimizer = tf.train.adam(0.01);
    const step = () => optimizer.minimize(() => tf.mean(tf.square(g.apply(IDS) as tf.Tensor)) as tf.Scalar, false, variablesOf(g));
    step();
    tf.dispose(g.apply(IDS) as tf.Tensor);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      tf.dispose(g.apply(IDS) as tf.Tensor);
      step();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options and inputs with errors that name the problem', () => {
    expect(() => parameterGenerator({ layers: LAYERS })).toThrow("'vocabSize' passed to 'ParameterGenerator' is required when input is 'ids'");
    expect(() => parameterGenerator({ layers: [], vocabSize: 3 })).toThrow("'layers' passed to 'ParameterGenerator' must be a non-empty array");
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 3, encoder: 'lstm' as never }))
      .toThrow("'encoder' passed to 'ParameterGenerator' must be one of 'gru', 'mean', 'attention', 'last', got 'lstm'");
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 3, decoder: 'tiny' as never }))
      .toThrow("'decoder' passed to 'ParameterGenerator' must be one of 'full', 'lowrank', got 'tiny'");
    expect(() => parameterGenerator({ layers: [{ name: 'a', inputDim: 0, outputDim: 2 }], vocabSize: 3 }))
      .toThrow("'inputDim' of layer 'a' passed to 'ParameterGenerator' must be a positive integer, got 0");
    expect(() => parameterGenerator({ layers: [LAYERS[0], LAYERS[0]], vocabSize: 3 }))
      .toThrow("layer name 'a' appears twice in the specs passed to 'ParameterGenerator'");
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 3 }).apply(tfl.input({ shape: [4, 2] })))
      .toThrow("'ids' passed to 'ParameterGenerator' must have shape [batch, time], got [batch, 4, 2]");
    expect(() => parameterGenerator({ layers: LAYERS, input: 'embeddings' }).apply(tfl.input({ shape: [4, 2] })))
      .toThrow("'ParameterGenerator' with input 'embeddings' expects two inputs");
    expect(() => parameterGenerator({ layers: LAYERS, input: 'embeddings' }).apply([tfl.input({ shape: [4, 2] }), tfl.input({ shape: [5] })]))
      .toThrow("'mask' passed to 'ParameterGenerator' must have shape [batch, 4], got [batch, 5]");
    expect(() => make().setStaticWeights('nope', [1])).toThrow("no generated layer named 'nope'; generated layers: 'a', 'b'");
    expect(() => make().setStaticWeights("a", [1, 2, 3])).toThrow("must have shape [6, 4] (or 24 values, row-major), got [3]");
  });
});

describe('ParameterGenerator construction', () => {
  it('leaves only its own weights behind when built', () => {
    for (const decoder of DECODERS) {
      const before = tf.memory().numTensors;
      const g = parameterGenerator({ layers: LAYERS, vocabSize: 30, decoder, stableWeights: true });
      g.build([null, 6]);
      expect(tf.memory().numTensors - before, decoder).toBe(g.weights.length);
    }
  });
});

describe('ParameterGenerator input checks', () => {
  it('treats any non-zero mask value as an item, for every encoder', () => {
    for (const encoder of ENCODERS) {
      const g = parameterGenerator({ layers: LAYERS, input: 'embeddings', encoder, seed: 2 });
      const emb = tf.randomNormal([1, 4, 3], 0, 1, 'float32', 5);
      const ones = g.apply([emb, tf.tensor2d([[1, 1, 1, 0]])]) as tf.Tensor;
      const other = g.apply([emb, tf.tensor2d([[5, 9, 2, 0]])]) as tf.Tensor;
      expect(maxAbsDiff(ones, other), encoder).toBeLessThan(1e-6);
    }
  });

  it('rejects a mask whose length differs from the embeddings, by name', () => {
    const g = parameterGenerator({ layers: LAYERS, input: 'embeddings' });
    g.apply([tf.zeros([1, 4, 3]), tf.ones([1, 4])]);
    expect(() => g.apply([tf.zeros([1, 4, 3]), tf.ones([1, 5])]))
      .toThrow("'mask' passed to 'ParameterGenerator' must have shape [batch, time] matching 'embeddings' [1, 4, 3], got [1, 5]");
  });

  it('refuses a one-dimensional conditioning vector when it would be standardised to 0', () => {
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 9, embeddingDim: 1 }).apply(tf.ones([1, 3])))
      .toThrow("'ParameterGenerator' has a conditioning vector of size 1 (from the embedding size); with 'normalizeCondition' on it must be at least 2");
  });

  it('refuses a transposed [out, in] kernel in setStaticWeights', () => {
    const g = make({ init: 'zero' });
    expect(() => g.setStaticWeights('a', tf.zeros([4, 6])))
      .toThrow("'kernel' passed to 'ParameterGenerator.setStaticWeights' for 'a' must have shape [6, 4] (or 24 values, row-major), got [4, 6]");
    expect(() => g.setStaticWeights('a', tf.zeros([6, 4]))).not.toThrow();
  });
});

describe('ParameterGenerator options', () => {
  it('rejects a misspelt option instead of ignoring it', () => {
    expect(() => parameterGenerator({ layers: LAYERS, vocabSize: 9, stableWeight: true } as never))
      .toThrow("unknown option 'stableWeight' passed to 'ParameterGenerator'");
  });
});
