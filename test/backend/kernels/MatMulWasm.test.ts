import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { isTranspositionFree, transpositionFreeMatMul } from '../../../src/backend/kernels/MatMulWasm';
import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { mulberry32 } from '../../../src/data/rng';
import { expectCpuParity, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const random = mulberry32(7);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

describe('transposition-free matMul on wasm', () => {
  it('is installed by registerDuetKernels, idempotently, for BatchMatMul and _FusedMatMul', () => {
    registerDuetKernels('wasm');
    const first = tf.getKernel(tf.BatchMatMul, 'wasm');
    registerDuetKernels('wasm');
    expect(isTranspositionFree(first)).toBe(true);
    expect(tf.getKernel(tf.BatchMatMul, 'wasm')).toBe(first);
    expect(isTranspositionFree(tf.getKernel(tf._FusedMatMul, 'wasm'))).toBe(true);
    expect(transpositionFreeMatMul(first!)).toBe(first);
    expect(() => transpositionFreeMatMul(tf.getKernel(tf.Add, 'wasm')!)).toThrow(/wraps wasm's BatchMatMul or _FusedMatMul, got Add for wasm/);
  });

  const cases: Array<[string, number[], number[], boolean, boolean]> = [
    ['2-D, transposeA', [37, 5], [37, 11], true, false],
    ['2-D, transposeB', [13, 6], [9, 6], false, true],
    ['2-D, both', [6, 13], [9, 6], true, true],
    ['2-D, neither', [13, 6], [6, 9], false, false],
    ['3-D batch 1, transposeA', [1, 40, 4], [1, 40, 7], true, false],
    ['3-D batch 3 (original kernel), transposeB', [3, 5, 4], [3, 6, 4], false, true],
    ['broadcast batch, transposeB', [2, 5, 4], [1, 6, 4], false, true],
  ];
  for (const [name, aShape, bShape, transposeA, transposeB] of cases) {
    it(`matches the cpu backend: ${name}`, async () => {
      const a = values(aShape.reduce((x, y) => x * y));
      const b = values(bShape.reduce((x, y) => x * y));
      const f = () => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB);
      // Same shapes within 1e-5, and the transposed copies freed (no data left on wasm).
      await expectCpuParity(f, 1e-5);
    });
  }

  it('matches the cpu backend for fused matMul with bias and relu, transposed', async () => {
    const a = values(8 * 5);
    const b = values(3 * 8);
    const bias = values(3);
    const f = () => tf.fused.matMul({
      a: tf.tensor2d(a, [8, 5]), b: tf.tensor2d(b, [3, 8]), transposeA: true, transposeB: true,
      bias: tf.tensor1d(bias), activation: 'relu',
    });
    const [wasm] = await expectCpuParity(f, 1e-5);
    expect(wasm.shape).toEqual([5, 3]);
    expect(Math.min(...(wasm.values as number[]))).toBeGreaterThanOrEqual(0);
  });

  it('gives the cpu backend\'s gradients for a dense layer (both transposed products)', async () => {
    const x = values(64 * 12);
    const w = values(12 * 10);
    const f = () => {
      const xs = tf.tensor2d(x, [64, 12]);
      const ws = tf.tensor2d(w, [12, 10]);
      const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.tanh(tf.matMul(p, q))))([xs, ws]);
      return tf.concat([tf.reshape(dx, [-1]), tf.reshape(dw, [-1])]);
    };
    await expectCpuParity(f, 1e-5);
  });

  it('uses one weight tensor under two transposed shapes without corrupting the cache', async () => {
    // wasm caches XNNPACK operators by the id of the right operand; transposed copies are fresh
    // tensors, so the same variable transposed in two products gets two operators.
    const w = values(6 * 4);
    const f = () => {
      const ws = tf.tensor2d(w, [6, 4]);
      const p = tf.matMul(tf.ones([2, 4]), ws, false, true); // [2, 6]
      const q = tf.matMul(tf.ones([3, 6]), ws); // [3, 4]
      return tf.concat([tf.reshape(p, [-1]), tf.reshape(q, [-1])]);
    };
    await expectCpuParity(f, 1e-5);
  });
});
