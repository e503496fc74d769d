// The Tile gradient duet-tf registers (one reshape and one sum) against the gradient computed by
// hand: each x element's gradient is the sum of the upstream gradient over all its copies.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { tileGradConfig } from '../../../src/backend/gradients/tile_grad';
import { useBackend } from '../../../src/backend/use_backend';

/** Σ over the copies of each x element of w (row-major, `reps` copies per axis). */
function expected(xShape: number[], reps: number[], w: Float32Array): Float64Array {
  const outShape = xShape.map((s, i) => s * reps[i]);
  const out = new Float64Array(tf.util.sizeFromShape(xShape));
  const rank = xShape.length;
  const index = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < w.length; flat++) {
    let rest = flat;
    for (let a = rank - 1; a >= 0; a--) { index[a] = rest % outShape[a]; rest = Math.floor(rest / outShape[a]); }
    let xi = 0;
    for (let a = 0; a < rank; a++) xi = xi * xShape[a] + (index[a] % xShape[a]);
    out[xi] += w[flat];
  }
  return out;
}

const CASES: Array<[number[], number[]]> = [
  [[5], [3]], [[1, 64], [300, 1]], [[300, 1], [1, 64]], [[2, 3], [4, 5]], [[3, 1, 2], [1, 4, 1]],
  [[2, 2, 1, 3], [2, 1, 3, 2]], [[2, 1, 2, 1, 2], [1, 2, 2, 3, 1]], [[2, 3], [1, 1]], [[0, 3], [2, 2]],
];

describe.each(['cpu', 'wasm'])('Tile gradient on %s', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    expect(await useBackend(backend as 'cpu' | 'wasm')).toBe(backend);
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('is the one registered', () => {
    registerDuetKernels(backend as 'cpu' | 'wasm');
    expect(tf.getGradient(tf.Tile)).toBe(tileGradConfig);
  });

  it.each(CASES)('x %j, reps %j: sums the upstream gradient over the copies, in a few kernels', async (xShape, reps) => {
    const size = tf.util.sizeFromShape(xShape);
    const outSize = size * reps.reduce((a, b) => a * b, 1);
    const w = Float32Array.from({ length: outSize }, (_, i) => Math.sin(i * 1.7) + 0.1 * (i % 5));
    const x = tf.tensor(Float32Array.from({ length: size }, (_, i) => i * 0.5), xShape);
    const weights = tf.tensor(w, xShape.map((s, i) => s * reps[i]));
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.tile(a, reps), weights)))(x));
    const grad = profile.result as tf.Tensor;
    expect(grad.shape).toEqual(xShape);
    const got = grad.dataSync();
    const want = expected(xShape, reps, w);
    for (let i = 0; i < size; i++) expect(Math.abs(got[i] - want[i]), `x[${i}]`).toBeLessThan(1e-4);
    expect(profile.kernels.length).toBeLessThan(15); // tfjs's own: two launches per repetition
    grad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, weights]);
  });
});
