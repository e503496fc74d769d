import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { dynamicDense } from '../../src/layers/dynamic_dense';
import { parameterGenerator } from '../../src/layers/parameter_generator';
import { generatorEmbeddingTable } from '../../src/serve/embedding_table';
import { generatorFingerprint } from '../../src/serve/fingerprint';
import { GeneratorRunner } from '../../src/serve/generator_runner';
import { loadGenerator } from '../../src/serve/load_generator';
import { splitDuet } from '../../src/wrap/split_duet';
import { direct, LENGTH, maxDiff, tinyDuet, VOCAB } from './tiny_duet';

describe('GeneratorRunner', () => {
  it('reads the generator: fingerprint, layout, length, vocabulary, embeddings support', () => {
    const { generator, layout } = tinyDuet();
    const runner = new GeneratorRunner(generator);
    expect(runner.info).toEqual({
      fingerprint: generatorFingerprint(generator),
      layout: layout.slices.map(({ name, inputDim, outputDim, useBias }) => ({ name, inputDim, outputDim, useBias })),
      total: layout.total, sequenceLength: LENGTH, vocabSize: VOCAB, embeddingDim: 8,
    });
    runner.dispose();
  });

  it('ids rows equal generator.predict on right-padded sequences, one call for a batch', async () => {
    const { generator } = tinyDuet();
    const runner = new GeneratorRunner(generator);
    const seqs = [[1, 2, 3], [29], [4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15]];
    const before = tf.memory().numTensors;
    const out = await runner.generate(seqs.map((ids) => ({ kind: 'ids' as const, ids: ids.slice(-LENGTH) })));
    expect(tf.memory().numTensors).toBe(before);
    const total = runner.info.total;
    seqs.forEach((ids, i) => {
      expect(maxDiff(out.subarray(i * total, (i + 1) * total), direct(generator, ids))).toBeLessThan(1e-6);
    });
    // Different users really get different parameters.
    expect(maxDiff(out.subarray(0, total), out.subarray(total, 2 * total))).toBeGreaterThan(1e-3);
    runner.dispose();
  });

  it('embedding rows (privacy mode) give the same parameters as the ids they stand for', async () => {
    const { generator } = tinyDuet({ encoder: 'gru' });
    const runner = new GeneratorRunner(generator);
    const table = generatorEmbeddingTable(generator);
    expect(table.shape).toEqual([VOCAB, 8]);
    const ids = [3, 17, 8];
    const rows = tf.tidy(() => tf.gather(table, tf.tensor1d(ids, 'int32'))).dataSync() as Float32Array;
    const [fromIds, fromEmbeddings] = await Promise.all([
      runner.generate([{ kind: 'ids', ids }]),
      runner.generate([{ kind: 'embeddings', vectors: rows, time: 3 }]),
    ]);
    expect(maxDiff(fromIds, fromEmbeddings)).toBeLessThan(1e-5);
    // Mixed batches keep each row's place.
    const mixed = await runner.generate([{ kind: 'embeddings', vectors: rows, time: 3 }, { kind: 'ids', ids: [5] }]);
    expect(maxDiff(mixed.subarray(0, runner.info.total), fromIds)).toBeLessThan(1e-5);
    expect(maxDiff(mixed.subarray(runner.info.total), direct(generator, [5]))).toBeLessThan(1e-6);
    table.dispose();
    runner.dispose();
  });

  it('runs an embeddings-input generator, which cannot take ids', async () => {
    const emb = tfl.input({ shape: [4, 3], name: 'emb' });
    const mask = tfl.input({ shape: [4], name: 'mask' });
    const x = tfl.input({ shape: [2], name: 'x' });
    const p = parameterGenerator({ layers: [{ name: 'dyn', inputDim: 2, outputDim: 1 }], input: 'embeddings', encoder: 'mean', init: 'glorot' })
      .apply([emb, mask]) as tfl.SymbolicTensor;
    const y = dynamicDense({ units: 1, name: 'dyn' }).apply([x, p]) as tfl.SymbolicTensor;
    const { generator } = splitDuet(tfl.model({ inputs: [emb, mask, x], outputs: y }));
    const runner = new GeneratorRunner(generator);
    expect(runner.info).toMatchObject({ vocabSize: null, embeddingDim: 3, sequenceLength: 4, total: 3 });
    const vectors = Float32Array.from([1, 0, 0, 0, 1, 0]);
    const out = await runner.generate([{ kind: 'embeddings', vectors, time: 2 }]);
    const expected = generator.predict([tf.tensor3d([[[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]]), tf.tensor2d([[1, 1, 0, 0]])]) as tf.Tensor;
    expect(maxDiff(out, expected.dataSync())).toBeLessThan(1e-6);
    await expect(runner.generate([{ kind: 'ids', ids: [1] }])).rejects.toThrow("'GeneratorRunner' does not accept item ids");
  });

  it('base parameters: the decoder output for a zero condition (the full decoder bias)', () => {
    const { generator } = tinyDuet({ residual: false });
    const runner = new GeneratorRunner(generator);
    const base = runner.baseParameters();
    const bias = generator.weights.find((w) => /\/bias$/.test(w.originalName) && w.shape.length === 1 && w.shape[0] === runner.info.total);
    expect(bias).toBeDefined();
    expect(maxDiff(base, bias!.read().dataSync())).toBe(0);
    runner.dispose();
  });

  it('loadGenerator takes a full DUET model or a generator', async () => {
    const { duet, generator } = tinyDuet();
    const fromDuet = await loadGenerator(duet);
    expect(generatorFingerprint(fromDuet)).toBe(generatorFingerprint(generator));
    expect(await loadGenerator(generator)).toBe(generator);
    await expect(loadGenerator(42 as unknown as string)).rejects.toThrow("'model' passed to 'loadGenerator' must be a model directory or a tfjs-layers LayersModel");
  });

  it('rejects models it cannot run', () => {
    const plain = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    expect(() => new GeneratorRunner(plain)).toThrow("'GeneratorRunner' needs a model with exactly one ParameterGenerator layer");
  });
});
