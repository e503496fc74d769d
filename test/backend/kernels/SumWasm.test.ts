import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { expectCpuParity, floats, ints, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
// Finite values: a NaN would make most sums NaN and hide differences.
const x = (shape: number[]) => tf.tensor(floats(size(shape), 2).map((v) => (Number.isFinite(v) ? v : 0.25)), shape);

describe('column Sum on wasm matches cpu', () => {
  it('is installed by useBackend', () => {
    expect(hasFastPath(tf.getKernel(tf.Sum, 'wasm'))).toBe(true);
  });

  // The fast path adds in float64, as cpu does: the same float32 values here.
  const cases: Array<[string, () => tf.Tensor]> = [
    ['axis 0 (a bias gradient)', () => tf.sum(x([300, 7]), 0)],
    ['axis 0, a block too large for cache (row passes)', () => tf.sum(x([2101, 9]), 0)],
    ['axis 1 of rank 3, large blocks', () => tf.sum(x([3, 1603, 11]), 1)],
    ['axis 0, keepDims', () => tf.sum(x([30, 7]), 0, true)],
    ['axis 1 of rank 3 (pooling)', () => tf.sum(x([4, 9, 5]), 1)],
    ['axes [0, 1] of rank 3', () => tf.sum(x([4, 9, 5]), [1, 0])],
    ['axis -2, keepDims', () => tf.sum(x([2, 3, 4, 5]), -2, true)],
    ['empty reduction', () => tf.sum(x([0, 4]), 0)],
    ['innermost axis (original kernel)', () => tf.sum(x([6, 5]), 1)],
    ['all axes (original kernel)', () => tf.sum(x([6, 5]))],
    ['non-adjacent axes (original kernel)', () => tf.sum(x([3, 4, 5]), [0, 2])],
  ];
  for (const [name, f] of cases) {
    it(name, async () => {
      await expectCpuParity(f, name.includes('original') ? 1e-5 : 0);
    });
  }

  it('leaves int32 and bool to the original kernel', async () => {
    await expectCpuParity(() => tf.sum(tf.tensor2d(ints(12), [4, 3], 'int32'), 0));
    await expectCpuParity(() => tf.sum(tf.tensor2d([1, 0, 1, 1], [2, 2], 'bool'), 0));
  });

  it('makes no transposed copy (the original kernel does)', async () => {
    await tf.setBackend('wasm');
    const t = x([40, 3]);
    const makeOutput = vi.spyOn(tf.backend() as unknown as { makeOutput: () => unknown }, 'makeOutput');
    try {
      tf.sum(t, 0).dispose();
      expect(makeOutput).toHaveBeenCalledTimes(1);
    } finally {
      makeOutput.mockRestore();
      t.dispose();
    }
  });
});
