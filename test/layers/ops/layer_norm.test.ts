/**
 * The fused layer norm (one kernel forward, one backward: JavaScript on cpu, SIMD on wasm) against
 * the op chain it replaces: values and gradients within 1e-5, no leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../../src/backend/use_backend';
import { layerNorm, layerNormByOps } from '../../../src/layers/ops/layer_norm';
import { LAYER_NORM, LAYER_NORM_GRAD } from '../../../src/layers/ops/layer_norm_impl';

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Value and gradients (x, gamma, beta) of a weighted sum of the norm's output. */
function run(f: typeof layerNorm, shape: number[]): number[][] {
  return tf.tidy(() => {
    const d = shape[shape.length - 1];
    const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 1), 3), 2);
    const gamma = tf.randomNormal([d], 1, 0.5, 'float32', 2);
    const beta = tf.randomNormal([d], 0, 0.5, 'float32', 3);
    const probe = tf.randomNormal(shape, 0, 1, 'float32', 4);
    const y = f(x, gamma, beta, 1e-6);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b, 1e-6), probe)))(
      [x, gamma, beta]);
    return [y, ...grads].map((t) => Array.from(t.dataSync()));
  });
}

function checks(backend: 'cpu' | 'wasm') {
  beforeAll(async () => {
    expect(await useBackend(backend)).toBe(backend);
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('runs one kernel forward and one backward', async () => {
    const x = tf.randomNormal([3, 8]);
    const w = tf.ones([8]);
    const b = tf.zeros([8]);
    const profile = await tf.profile(() => tf.grads((a: tf.Tensor) => tf.sum(layerNorm(a, w, b, 1e-6)))([x]));
    expect(profile.kernelNames).toContain(LAYER_NORM);
    expect(profile.kernelNames).toContain(LAYER_NORM_GRAD);
    expect(profile.kernelNames).not.toContain('Rsqrt');
    tf.dispose([x, w, b, profile.result as tf.Tensor[]]);
  });

  // 8: SIMD rows on wasm; 6: the JavaScript kernel there; a long sum over 700 rows for dgamma.
  for (const shape of [[2, 5, 8], [3, 6], [700, 12]]) {
    it(`matches the op chain within 1e-5 at [${shape}], values and gradients, without leaks`, () => {
      const expected = run(layerNormByOps, shape);
      const before = tf.memory().numTensors;
      const actual = run(layerNorm, shape);
      expect(tf.memory().numTensors).toBe(before);
      expected.forEach((e, i) => {
        const scale = Math.max(1, ...e.map(Math.abs));
        expect(maxAbs(actual[i], e) / scale, `output ${i}`).toBeLessThan(1e-5);
      });
    });
  }
}

describe('fused layerNorm on cpu', () => checks('cpu'));
describe('fused layerNorm on wasm', () => checks('wasm'));
