import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isTranspositionFree, transpositionFreeMatMul } from '../../../src/backend/kernels/MatMulWasm';
import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { useBackend } from '../../../src/backend/use_backend';
import { mulberry32 } from '../../../src/data/rng';

beforeAll(async () => {
  await useBackend('cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  expect(await useBackend('wasm')).toBe('wasm');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

const random = mulberry32(7);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

/** Runs `f` on `backend` with fresh tensors made from the same values; returns the result's values. */
async function on(backend: string, f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  const out = tf.tidy(f);
  const data = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  return { shape, data };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

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
      const cpu = await on('cpu', f);
      await tf.setBackend('wasm');
      const before = tf.backend().numDataIds();
      const wasm = await on('wasm', f);
      expect(tf.backend().numDataIds()).toBe(before); // the transposed copies are freed
      expect(wasm.shape).toEqual(cpu.shape);
      expect(maxDiff(wasm.data, cpu.data)).toBeLessThan(1e-5);
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
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    expect(wasm.shape).toEqual([5, 3]);
    expect(maxDiff(wasm.data, cpu.data)).toBeLessThan(1e-5);
    expect(Math.min(...wasm.data)).toBeGreaterThanOrEqual(0);
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
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    expect(maxDiff(wasm.data, cpu.data)).toBeLessThan(1e-5);
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
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    expect(maxDiff(wasm.data, cpu.data)).toBeLessThan(1e-5);
  });
});
