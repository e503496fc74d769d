import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';

import { hasSimdMatMul, simdBatchedMatMul } from '../../../src/backend/kernels/BatchedMatMulSimd';
import { mulberry32 } from '../../../src/data/rng';
import { expectCpuParity, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const random = mulberry32(11);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

describe('batched matMul through the SIMD kernel on wasm', () => {
  it('runs on this backend, and returns the product itself (not the original kernel)', () => {
    const backend = tf.backend() as BackendWasm;
    expect(hasSimdMatMul(backend)).toBe(true);
    const a = tf.tensor3d(values(2 * 3 * 5), [2, 3, 5]);
    const b = tf.tensor3d(values(2 * 5 * 4), [2, 5, 4]);
    const info = simdBatchedMatMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
    expect(info).not.toBeNull();
    const out = tf.engine().makeTensorFromTensorInfo(info!);
    expect(out.shape).toEqual([2, 3, 4]);
    const want = tf.matMul(a, b);
    expect(Math.max(...Array.from(tf.abs(tf.sub(out, want)).dataSync()))).toBeLessThan(1e-5);
    tf.dispose([a, b, out, want]);
  });

  const cases: Array<[string, number[], number[], boolean, boolean]> = [
    ['plain, K and N not multiples of 4', [3, 7, 5], [3, 5, 9], false, false],
    ['transposeA', [3, 5, 7], [3, 5, 9], true, false],
    ['transposeB (attention scores)', [6, 30, 8], [6, 30, 8], false, true],
    ['both transposed', [2, 5, 7], [2, 9, 5], true, true],
    ['4-D batch', [2, 3, 4, 6], [2, 3, 6, 5], false, false],
    ['a broadcast from batch 1', [1, 4, 6], [3, 6, 5], false, false],
    ['b broadcast from batch 1, transposeB', [3, 4, 6], [1, 5, 6], false, true],
    ['per-sample vector times matrix (DynamicDense)', [5, 1, 12], [5, 12, 7], false, false],
    ['K = 1', [4, 3, 1], [4, 1, 2], false, false],
  ];
  for (const [name, aShape, bShape, transposeA, transposeB] of cases) {
    it(`matches the cpu backend within 1e-5: ${name}`, async () => {
      const a = values(size(aShape));
      const b = values(size(bShape));
      await expectCpuParity(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB), 1e-5);
    });
  }

  const gradientCases: Array<[number, number, number]> = [[300, 8, 16], [301, 7, 13], [5, 4, 8], [600, 1, 3]];
  for (const [rows, m, n] of gradientCases) {
    it(`computes Xᵀ·Y (weight gradients) as the cpu backend does: [${rows}, ${m}]ᵀ · [${rows}, ${n}]`, async () => {
      const x = values(rows * m);
      const y = values(rows * n);
      await expectCpuParity(() => tf.matMul(tf.tensor2d(x, [rows, m]), tf.tensor2d(y, [rows, n]), true, false), 1e-5);
      await expectCpuParity(() => tf.matMul(tf.tensor3d(x, [1, rows, m]), tf.tensor3d(y, [1, rows, n]), true, false), 1e-5);
    });
  }

  it("gives the cpu backend's gradients of a batched product (every transposed form)", async () => {
    const q = values(4 * 6 * 3);
    const k = values(4 * 6 * 3);
    const v = values(4 * 6 * 5);
    await expectCpuParity(() => {
      const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.tanh(tf.matMul(tf.softmax(tf.matMul(x, y, false, true)), z)));
      const grads = tf.grads(f)([tf.tensor3d(q, [4, 6, 3]), tf.tensor3d(k, [4, 6, 3]), tf.tensor3d(v, [4, 6, 5])]);
      return tf.concat(grads.map((g) => tf.reshape(g, [-1])));
    }, 1e-5);
  });

  // wasm's own batched fused matMul gets these wrong (the bias of row i > 0 is its last element).
  for (const activation of ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
    it(`adds a fused product's bias and ${activation} activation as the cpu backend does`, async () => {
      const a = values(2 * 3 * 4);
      const b = values(2 * 4 * 5);
      const bias = values(5);
      const alpha = values(5);
      await expectCpuParity(() => tf.fused.matMul({
        a: tf.tensor3d(a, [2, 3, 4]), b: tf.tensor3d(b, [2, 4, 5]), bias: tf.tensor1d(bias), activation,
        ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor1d(alpha) } : {}),
      }), 1e-5);
    });
  }
});
