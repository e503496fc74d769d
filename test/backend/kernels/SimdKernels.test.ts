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
    // The recurrence alone, on a projection made beforehand.
    await expectCpuParity(() => tf.engine().runKernel('DuetGruSequence', {
      x: tf.tensor3d(f(B * T * 3 * U, 2, 2), [B, T, 3 * U]),
      recurrent: tf.tensor2d(f(U * 3 * U, 4, 0.8), [U, 3 * U]),
      mask: tf.tensor2d(mask, [B, T]),
    }, {}) as tf.Tensor, 1e-5);
  });
});

describe('SIMD GRU with its input projection fused (DuetGruEncode) on wasm', () => {
  const f = (n: number, seed: number, scale: number) => Array.from(floats(n, seed), (v) => (Number.isFinite(v) ? v * scale : 0.25));

  it('is installed on the DuetGruEncode kernel by useBackend, and gruEncode runs it', async () => {
    expect(hasFastPath(tf.getKernel('DuetGruEncode', 'wasm'))).toBe(true);
    const info = await tf.profile(() => gruEncode(tf.ones([4, 3, 8]) as tf.Tensor3D, tf.ones([4, 3]),
      { kernel: tf.ones([8, 24]), recurrent: tf.ones([8, 24]), bias: tf.zeros([24]) }));
    expect(info.kernels.map((k) => k.name)).toContain('DuetGruEncode');
    expect(info.kernels.map((k) => k.name)).not.toContain('DuetGruSequence');
  });

  it('matches the cpu backend: odd input width, 12 units (a 4-column edge), uneven and empty rows, a leftover row', async () => {
    const [B, T, D, U] = [11, 6, 7, 12];
    // Row 4 all padding, row 7 one valid step, holes elsewhere; row 10 is outside the 4-row groups.
    const mask = Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) === 4 || (i * 5) % 7 === 0 ? 0 : 1));
    for (let t = 0; t < T; t++) mask[7 * T + t] = t === 3 ? 1 : 0;
    const [wasm] = await expectCpuParity(() => gruEncode(tf.tensor3d(f(B * T * D, 6, 1.5), [B, T, D]),
      tf.tensor2d(mask, [B, T]), {
        kernel: tf.tensor2d(f(D * 3 * U, 7, 0.9), [D, 3 * U]),
        recurrent: tf.tensor2d(f(U * 3 * U, 8, 0.8), [U, 3 * U]),
        bias: tf.tensor1d(f(3 * U, 9, 0.5)),
      }), 1e-5);
    const v = wasm.values as number[];
    expect(v.slice(4 * U, 5 * U).every((x) => x === 0)).toBe(true); // no valid step: h = 0
    expect(v.slice(7 * U, 8 * U).some((x) => x !== 0)).toBe(true);
  });

  it('matches the cpu backend at the generator\'s size (32 units, batch 64, right padding)', async () => {
    const [B, T, D, U] = [64, 30, 32, 32];
    const mask = Array.from({ length: B * T }, (_, i) => (i % T < 3 + ((Math.floor(i / T) * 7) % 28) ? 1 : 0));
    await expectCpuParity(() => gruEncode(tf.tensor3d(f(B * T * D, 10, 1), [B, T, D]), tf.tensor2d(mask, [B, T]), {
      kernel: tf.tensor2d(f(D * 3 * U, 11, 0.3), [D, 3 * U]),
      recurrent: tf.tensor2d(f(U * 3 * U, 12, 0.3), [U, 3 * U]),
      bias: tf.tensor1d(f(3 * U, 13, 0.2)),
    }), 1e-5);
  });

  it('reports a wrong kernel shape naming the input', () => {
    expect(() => tf.engine().runKernel('DuetGruEncode', {
      x: tf.zeros([2, 3, 8]), kernel: tf.zeros([7, 24]), bias: tf.zeros([24]), recurrent: tf.zeros([8, 24]),
      mask: tf.ones([2, 3]),
    }, {})).toThrow(/'kernel' passed to 'DuetGruEncode' must have shape \[8, 24\], got \[7, 24\]/);
  });
});
