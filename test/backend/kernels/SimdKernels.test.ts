import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { gruEncode } from '../../../src/layers/ops/gru_recurrence'; // registers DuetGruSequence, which useBackend then wraps
import { expectCpuParity, floats, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

describe('SIMD tanh on wasm', () => {
  it('is installed by useBackend', () => {
    expect(hasFastPath(tf.getKernel(tf.Tanh, 'wasm'))).toBe(true);
  });

  it('matches the cpu backend within 1e-6 over a wide range, odd lengths, NaN, ±Infinity and -0 included', async () => {
    const x = floats(1003, 3).map((v, i) => (Number.isFinite(v) ? v * (i % 3 === 0 ? 12 : 2) : v));
    x[0] = 1e-8;
    x[2] = -0;
    const [wasm] = await expectCpuParity(() => tf.tanh(tf.tensor1d(x)), 1e-6);
    const v = wasm.values as number[];
    expect(Number.isNaN(v[1])).toBe(true);
    expect([v[4], v[7]]).toEqual([1, -1]); // tanh(±Infinity)
    expect(Object.is(v[2], -0)).toBe(true);
    expect(Math.abs(v[0] - 1e-8)).toBeLessThan(1e-7);
  });

  it("gives the cpu backend's gradient", async () => {
    const x = floats(37, 5).map((v) => (Number.isFinite(v) ? v * 3 : 0.5));
    await expectCpuParity(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.tanh(a), a)))(tf.tensor1d(x)), 1e-6);
  });
});

describe('SIMD GRU recurrence on wasm', () => {
  it('is installed on the DuetGruSequence kernel by useBackend', () => {
    expect(hasFastPath(tf.getKernel('DuetGruSequence', 'wasm'))).toBe(true);
  });

  it('matches the cpu backend at 12 units over two 4-row groups (uneven valid steps) and a leftover row', async () => {
    const [B, T, U] = [9, 5, 12];
    // Row 4 has no valid step, row 7 one: each group runs some steps four-wide, the rest row by row.
    const mask = Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) === 4 || (i * 7) % 5 === 0 ? 0 : 1));
    mask[7 * T + 2] = 1;
    const f = (n: number, seed: number, scale: number) => Array.from(floats(n, seed), (v) => (Number.isFinite(v) ? v * scale : 0.25));
    await expectCpuParity(() => gruEncode(tf.tensor3d(f(B * T * 4, 2, 2), [B, T, 4]), tf.tensor2d(mask, [B, T]), {
      kernel: tf.tensor2d(f(4 * 3 * U, 3, 1), [4, 3 * U]),
      recurrent: tf.tensor2d(f(U * 3 * U, 4, 0.8), [U, 3 * U]),
      bias: tf.tensor1d(f(3 * U, 5, 0.5)),
    }), 1e-5);
  });
});
