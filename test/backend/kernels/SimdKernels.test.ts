import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import '../../../src/layers/ops/gru_recurrence'; // registers DuetGruSequence, which useBackend then wraps
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
});
