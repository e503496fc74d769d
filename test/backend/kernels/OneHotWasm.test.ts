import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { oneHotWasmConfig } from '../../../src/backend/kernels/OneHotWasm';
import { expectCpuParity, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

describe('dtype-correct OneHot on wasm', () => {
  it('is the kernel registered for wasm after useBackend', () => {
    expect(tf.getKernel(tf.OneHot, 'wasm')?.kernelFunc).toBe(oneHotWasmConfig.kernelFunc);
  });

  const cases: Array<[string, () => tf.Tensor]> = [
    ['float32 with out-of-range ids', () => tf.oneHot(tf.tensor1d([1, -1, 0, 3, 2], 'int32'), 3, 1, 0, 'float32')],
    ['int32 default', () => tf.oneHot(tf.tensor1d([2, 0], 'int32'), 4)],
    ['float32, custom on/off, 2-D ids', () => tf.oneHot(tf.tensor2d([[0, 1], [4, 2]], [2, 2], 'int32'), 5, 0.5, -2, 'float32')],
  ];
  for (const [name, f] of cases) {
    it(`matches the cpu backend: ${name}`, async () => {
      await expectCpuParity(f); // shapes, dtypes and values exactly equal
    });
  }

  it('makes a float32 one-hot selection work (the masked pick SASRec-like models use)', async () => {
    await tf.setBackend('wasm');
    const picked = tf.tidy(() => tf.matMul(tf.oneHot(tf.tensor1d([1], 'int32'), 3, 1, 0, 'float32'),
      tf.tensor2d([[1, 2], [3, 4], [5, 6]])));
    expect(Array.from(await picked.data())).toEqual([3, 4]);
    picked.dispose();
  });
});
