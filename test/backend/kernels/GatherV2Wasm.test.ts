import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { bits, expectCpuParity, floats, ints, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const idx = (values: number[], shape = [values.length]) => tf.tensor(values, shape, 'int32');

describe('row-copy GatherV2 on wasm matches cpu', () => {
  it('is installed by useBackend', () => {
    expect(hasFastPath(tf.getKernel(tf.GatherV2, 'wasm'))).toBe(true);
  });

  const table = (shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32') => {
    const n = size(shape);
    return tf.tensor(dtype === 'float32' ? floats(n) : dtype === 'int32' ? ints(n) : bits(n), shape, dtype);
  };
  const cases: Array<[string, () => tf.Tensor]> = [
    ['embedding rows, 2-D ids', () => tf.gather(table([10, 4]), idx([1, 9, 9, 0, 3, 1], [2, 3]))],
    ['long rows (block copies)', () => tf.gather(table([6, 70]), idx([5, 0, 2, 2]))],
    ['rank 1 table', () => tf.gather(table([7]), idx([6, 0, 3]))],
    ['axis 1', () => tf.gather(table([3, 5, 2]), idx([4, 0, 4]), 1)],
    ['axis -1 (one element per copy)', () => tf.gather(table([3, 5]), idx([4, 1]), -1)],
    ['int32 values', () => tf.gather(table([8, 3], 'int32'), idx([7, 2, 2]))],
    ['bool values', () => tf.gather(table([8, 3], 'bool'), idx([7, 2, 2]))],
    ['no ids', () => tf.gather(table([5, 3]), idx([], [0]))],
    ['empty rows', () => tf.gather(table([5, 0]), idx([4, 1]))],
    ['batch dims (original kernel)', () => tf.gather(table([2, 4, 3]), idx([3, 0, 1, 1], [2, 2]), 1, 1)],
  ];
  for (const [name, f] of cases) {
    it(name, async () => {
      await expectCpuParity(f);
    });
  }

  it('throws the original error for an id out of range, as cpu does', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      expect(() => tf.tidy(() => tf.gather(table([10, 4]), idx([2, 10]))))
        .toThrow('GatherV2: the index value 10 is not in [0, 9]');
      expect(() => tf.tidy(() => tf.gather(table([10, 4]), idx([-1]))))
        .toThrow('GatherV2: the index value -1 is not in [0, 9]');
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('copies no ids to JS (the original kernel reads them with readSync)', async () => {
    await tf.setBackend('wasm');
    const x = table([10, 4]);
    const ids = idx([1, 2]);
    const readSync = vi.spyOn(tf.backend(), 'readSync');
    try {
      tf.gather(x, ids).dispose();
      expect(readSync).not.toHaveBeenCalled();
    } finally {
      readSync.mockRestore();
      tf.dispose([x, ids]);
    }
  });

  it('re-reads the heap after allocating (the heap grows and detaches old views)', async () => {
    await tf.setBackend('wasm');
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
    const rows = 1000;
    const x = tf.reshape(tf.range(0, rows * 16, 1, 'int32'), [rows, 16]);
    // Enough ids for an output as large as the heap is now.
    const n = Math.ceil(heap().length / (16 * 4));
    const ids = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i * 7) % rows), 'int32');
    const buffer = heap().buffer;
    const out = tf.gather(x, ids);
    expect(heap().buffer).not.toBe(buffer);
    const values = out.dataSync();
    for (const i of [0, 1, n >>> 1, n - 1]) {
      expect(values[i * 16 + 3]).toBe(((i * 7) % rows) * 16 + 3);
    }
    tf.dispose([x, ids, out]);
  });
});
