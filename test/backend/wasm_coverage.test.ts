import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/use_backend';

// Every op duet-tf's models train with, forward and backward, on wasm against cpu. Of these,
// tfjs-backend-wasm 4.22 lacks only UnsortedSegmentSum (the gradient of gather), which
// registerDuetKernels adds; Greater/Less/… lack a gradient in tfjs-core on every backend.

type Result = tf.Tensor | tf.Tensor[];
const r = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
const grads = (f: (...x: tf.Tensor[]) => tf.Tensor, ...xs: tf.Tensor[]): tf.Tensor[] =>
  tf.grads(f as (...x: tf.Tensor[]) => tf.Tensor)(xs);
const ids = (values: number[], shape: number[]) => tf.tensor(values, shape, 'int32');

const CASES: Array<[string, () => Result]> = [
  ['gather (embedding lookup)', () => grads((p) => tf.gather(p, ids([1, 2, 2, 7], [2, 2])), r([8, 3], 1))],
  ['gather axis 1', () => grads((p) => tf.gather(p, ids([1, 0, 1], [3]), 1), r([4, 3], 1))],
  ['matMul', () => grads((a, b) => tf.matMul(a, b), r([3, 4], 1), r([4, 5], 2))],
  ['matMul transposeA', () => grads((a, b) => tf.matMul(a, b, true, false), r([4, 3], 1), r([4, 5], 2))],
  ['matMul transposeB', () => grads((a, b) => tf.matMul(a, b, false, true), r([3, 4], 1), r([5, 4], 2))],
  ['matMul both transposed', () => grads((a, b) => tf.matMul(a, b, true, true), r([4, 3], 1), r([5, 4], 2))],
  ['batchMatMul', () => grads((a, b) => tf.matMul(a, b, false, true), r([2, 3, 4], 1), r([2, 5, 4], 2))],
  ['fused matMul + bias', () => grads((a, b, c) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c }), r([3, 4], 1), r([4, 5], 2), r([5], 3))],
  ['sigmoid, tanh', () => grads((a) => tf.mul(tf.sigmoid(a), tf.tanh(a)), r([3, 4], 1))],
  ['mul, add, sub, div broadcast', () => grads((a, b) => tf.div(tf.sub(tf.mul(a, b), b), tf.add(b, 3)), r([3, 4], 1), r([4], 2))],
  ['slice, concat', () => grads((a, b) => tf.slice(tf.concat([a, b], 1), [0, 1], [2, 4]), r([3, 4], 1), r([3, 2], 2))],
  ['split, stack, unstack', () => grads((a) => tf.stack(tf.unstack(tf.split(a, [1, 3], 1)[1], 1).reverse(), 1), r([3, 4], 1))],
  ['softmax', () => grads((a) => tf.mul(tf.softmax(a), r([3, 4], 5)), r([3, 4], 1))],
  ['logSoftmax', () => grads((a) => tf.mul(tf.logSoftmax(a), r([3, 4], 5)), r([3, 4], 1))],
  ['layer norm (mean, sub, square, rsqrt)', () => grads((a) => {
    const c = tf.sub(a, tf.mean(a, -1, true));
    return tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-3)));
  }, r([3, 4], 1))],
  ['moments', () => grads((a) => tf.moments(a, -1).variance, r([3, 4], 1))],
  ['dropout', () => tf.dropout(tf.ones([4, 4]), 0.5, undefined, 3)],
  ['Adam-style sqrt, div', () => grads((a) => tf.div(a, tf.add(tf.sqrt(tf.abs(a)), 1e-7)), r([3, 4], 1))],
  ['sigmoidCrossEntropy', () => grads((a) => tf.losses.sigmoidCrossEntropy(tf.tensor2d([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0]]), a), r([3, 4], 1))],
  ['log, exp, softplus, log1p', () => grads((a) => tf.add(tf.add(tf.log(tf.exp(a)), tf.softplus(a)), tf.log1p(tf.abs(a))), r([3, 4], 1))],
  ['clipByValue', () => grads((a) => tf.clipByValue(a, -0.3, 0.4), r([3, 4], 1))],
  ['where, greater', () => grads((a, b) => tf.where(tf.greater(a, b), a, b), r([3, 4], 1), r([3, 4], 2))],
  ['cast', () => grads((a) => tf.mul(tf.cast(tf.cast(a, 'int32'), 'float32'), a), r([3, 4], 1))],
  ['tile', () => grads((a) => tf.tile(a, [2, 1, 3]), r([2, 3, 4], 1))],
  ['oneHot', () => tf.oneHot(ids([1, 0, 3, -1, 5], [5]), 4)],
  ['transpose', () => grads((a) => tf.mul(tf.transpose(a, [2, 0, 1]), r([4, 2, 3], 3)), r([2, 3, 4], 1))],
  ['reshape, expandDims, squeeze', () => grads((a) => tf.squeeze(tf.expandDims(tf.reshape(a, [4, 3]), 1)), r([3, 4], 1))],
  ['sum, max, maximum', () => grads((a, b) => tf.add(tf.max(a, -1), tf.sum(tf.maximum(a, b), 1)), r([3, 4], 1), r([3, 4], 2))],
  ['sum, max of int32', () => [tf.sum(ids([1, 2, 3, 4], [2, 2]), 0), tf.max(ids([1, 2, 3, 4], [2, 2]), 1)]],
  ['argMax', () => tf.argMax(r([3, 4], 1), 1)],
  ['topk', () => { const t = tf.topk(r([3, 6], 1), 3); return [t.values, t.indices]; }],
  ['relu, elu, leakyRelu, abs, neg', () => grads((a) => tf.neg(tf.add(tf.relu(a), tf.add(tf.elu(a), tf.abs(tf.leakyRelu(a, 0.1))))), r([3, 4], 1))],
  ['pad, pow, reciprocal', () => grads((a) => tf.reciprocal(tf.add(tf.pow(tf.abs(tf.pad(a, [[1, 0], [0, 2]])), 1.5), 1)), r([3, 4], 1))],
];

const reference = new Map<string, { values: number[][]; meta: string }>();

afterAll(async () => {
  await tf.setBackend('cpu');
});

function evaluate(f: () => Result): { values: number[][]; meta: string } {
  return tf.tidy(() => {
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    return {
      values: list.map((t) => Array.from(t.dataSync())),
      meta: list.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(' '),
    };
  });
}

describe('ops duet-tf trains with, on wasm', () => {
  it('run forward and backward on cpu (the reference)', async () => {
    await useBackend('cpu');
    for (const [name, f] of CASES) reference.set(name, evaluate(f));
  });

  it.each(CASES)('%s: same values on wasm', async (name, f) => {
    await useBackend('wasm');
    const expected = reference.get(name);
    expect(expected, 'cpu reference').toBeDefined();
    const actual = evaluate(f);
    expect(actual.meta).toBe(expected!.meta);
    actual.values.forEach((vals, i) =>
      vals.forEach((v, j) => expect(Math.abs(v - expected!.values[i][j]), `${name} [${i}][${j}]`).toBeLessThan(1e-5)),
    );
  });
});
