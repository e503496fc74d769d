import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { identityWasmConfig } from '../../../src/backend/kernels/IdentityWasm';
import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { useBackend } from '../../../src/backend/use_backend';

let original: tf.KernelConfig;

beforeAll(async () => {
  await useBackend('cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  const registered = tf.getKernel(tf.Identity, 'wasm');
  if (registered == null) throw new Error('tfjs-backend-wasm registered no Identity');
  expect(registered.kernelFunc).not.toBe(identityWasmConfig.kernelFunc);
  original = registered;
  expect(await useBackend('wasm')).toBe('wasm');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

const dataIds = () => tf.backend().numDataIds();

describe('zero-copy Identity on wasm', () => {
  it('replaces the copying kernel, idempotently', () => {
    registerDuetKernels('wasm');
    expect(tf.getKernel(tf.Identity, 'wasm')?.kernelFunc).toBe(identityWasmConfig.kernelFunc);
  });

  it('clones without a copy, and the clone outlives the original', () => {
    const before = dataIds();
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.clone(a);
    expect(dataIds()).toBe(before + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    expect(b.shape).toEqual([2, 2]);
    b.dispose();
    expect(dataIds()).toBe(before);
  });

  it('clones int32, bool and string tensors', () => {
    const t = [tf.tensor1d([1, -2], 'int32'), tf.tensor1d([1, 0], 'bool'), tf.tensor1d(['a', 'bc'])];
    const c = t.map((x) => tf.clone(x));
    tf.dispose(t);
    expect(c.map((x) => x.dtype)).toEqual(['int32', 'bool', 'string']);
    expect(Array.from(c[0].dataSync())).toEqual([1, -2]);
    expect(Array.from(c[1].dataSync())).toEqual([1, 0]);
    expect(c[2].arraySync()).toEqual(['a', 'bc']);
    tf.dispose(c);
  });

  it('lets custom gradients (fused matMul, as in Dense) train under the IS_TEST leak check', () => {
    expect(tf.env().getBool('IS_TEST')).toBe(true);
    const a = tf.variable(tf.tensor2d([[1, -2], [3, 4]]));
    const b = tf.variable(tf.tensor2d([[0.5, 1], [-1, 2]]));
    const bias = tf.tensor1d([0.5, -6]);
    const gradOfA = (): number[] =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() =>
          // Linear, as tfjs-layers' Dense calls it; with an activation tfjs unfuses under a tape.
          tf.sum(tf.fused.matMul({ a, b, bias })),
        );
        return Array.from(grads[a.name].dataSync());
      });
    // tfjs-backend-wasm's own Identity copies the saved tensors, which the check takes for leaks.
    tf.unregisterKernel(tf.Identity, 'wasm');
    tf.registerKernel(original);
    try {
      expect(gradOfA).toThrow("Backend 'wasm' has an internal memory leak");
    } finally {
      registerDuetKernels('wasm');
    }
    // d/da Σ(a·b + bias) = 1 · bᵀ: each row holds the row sums of b.
    expect(gradOfA()).toEqual([1.5, 1, 1.5, 1]);
    tf.dispose([a, b, bias]);
  });
});
