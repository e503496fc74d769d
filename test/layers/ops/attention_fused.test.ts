/**
 * The fused attention kernels (JavaScript on cpu, SIMD on wasm) against the op chain they replace:
 * values and gradients within 1e-5, masks (padding, causal, rows that see nothing), cross
 * attention, dropout multipliers, head sizes the SIMD kernel takes (4, 8) and one it leaves (3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../../src/backend/use_backend';
import {
  type AttentionWeights, computeMultiHeadAttention, computeMultiHeadAttentionByOps, fusedAttentionContext,
} from '../../../src/layers/ops/attention';
import { ATTENTION, ATTENTION_GRAD } from '../../../src/layers/ops/attention_impl';

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

interface Case { B: number; Tq: number; Tv: number; H: number; dk: number; causal: boolean; mask: boolean }

/** Output and gradients (query, value and every kernel) of a weighted sum of the attention's output. */
function run(f: typeof computeMultiHeadAttention, c: Case): number[][] {
  return tf.tidy(() => {
    const dim = 6;
    const inner = c.H * c.dk;
    const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const query = r([c.B, c.Tq, dim], 1) as tf.Tensor3D;
    const value = c.Tq === c.Tv ? query : r([c.B, c.Tv, dim], 2) as tf.Tensor3D;
    const kernels = [r([dim, inner], 3), r([dim, inner], 4), r([dim, inner], 5), r([inner, dim], 6)];
    const bias = r([dim], 7);
    // Left padding, one row fully padded, one with a hole.
    const mask = !c.mask ? null : tf.tensor2d(Array.from({ length: c.B * c.Tv }, (_, i) => {
      const [b, t] = [Math.floor(i / c.Tv), i % c.Tv];
      return b === 1 ? 0 : b === 0 ? Number(t >= 2) : Number(t !== 3);
    }), [c.B, c.Tv]);
    const probe = r([c.B, c.Tq, dim], 8);
    const attend = (q: tf.Tensor, v: tf.Tensor, kq: tf.Tensor, kk: tf.Tensor, kv: tf.Tensor, ko: tf.Tensor) => {
      const w: AttentionWeights = { query: { kernel: kq as tf.Tensor2D }, key: { kernel: kk as tf.Tensor2D },
        value: { kernel: kv as tf.Tensor2D }, output: { kernel: ko as tf.Tensor2D, bias: bias as tf.Tensor1D } };
      return f(q as tf.Tensor3D, (c.Tq === c.Tv ? q : v) as tf.Tensor3D, w,
        { numHeads: c.H, keyDim: c.dk, mask, causal: c.causal });
    };
    const y = attend(query, value, kernels[0], kernels[1], kernels[2], kernels[3]);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(attend(xs[0], xs[1], xs[2], xs[3], xs[4], xs[5]), probe)))(
      [query, value, ...kernels]);
    return [y, ...grads].map((t) => Array.from(t.dataSync()));
  });
}

const CASES: Array<[string, Case]> = [
  ['causal self-attention, padding mask (SIMD head size 8)', { B: 3, Tq: 7, Tv: 7, H: 2, dk: 8, causal: true, mask: true }],
  ['non-causal, no mask, head size 4', { B: 2, Tq: 5, Tv: 5, H: 3, dk: 4, causal: false, mask: false }],
  ['cross attention Tq ≠ Tv, mask, head size 3 (JavaScript kernel on wasm too)', { B: 3, Tq: 4, Tv: 6, H: 2, dk: 3, causal: false, mask: true }],
];

function checks(backend: 'cpu' | 'wasm') {
  beforeAll(async () => {
    expect(await useBackend(backend)).toBe(backend);
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  it('runs one kernel forward and one backward', async () => {
    const profile = await tf.profile(() => run(computeMultiHeadAttention, CASES[0][1]));
    expect(profile.kernelNames).toContain(ATTENTION);
    expect(profile.kernelNames).toContain(ATTENTION_GRAD);
    expect(profile.kernelNames).not.toContain('Softmax');
  });

  for (const [name, c] of CASES) {
    it(`${name}: matches the op chain within 1e-5, values and gradients, without leaks`, () => {
      const expected = run(computeMultiHeadAttentionByOps, c);
      const before = tf.memory().numTensors;
      const actual = run(computeMultiHeadAttention, c);
      expect(tf.memory().numTensors).toBe(before);
      expected.forEach((e, i) => expect(maxRel(actual[i], e), `output ${i}`).toBeLessThan(1e-5));
    });
  }

  it('applies dropout multipliers as softmax · keep · v, and their gradient', () => {
    const [B, T, H, dk] = [2, 5, 2, 4];
    const [q, k, v] = [1, 2, 3].map((s) => tf.randomNormal([B, T, H * dk], 0, 1, 'float32', s));
    const keep = tf.div(tf.floor(tf.add(tf.randomUniform([B, H, T, T], 0, 1, 'float32', 4), 0.6)), 0.6);
    const probe = tf.randomNormal([B, T, H * dk], 0, 1, 'float32', 5);
    const attrs = { numHeads: H, scale: 0.5, causal: true, hasMask: false, hasKeep: true };
    const reference = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
      const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, T, H, dk]), [0, 2, 1, 3]);
      const scores = tf.mul(tf.matMul(heads(a), heads(b), false, true), 0.5);
      const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
      const probs = tf.softmax(tf.add(tf.mul(scores, causal), tf.mul(tf.sub(1, causal), -1e9)));
      return tf.reshape(tf.transpose(tf.matMul(tf.mul(probs, keep), heads(c)), [0, 2, 1, 3]), [B, T, H * dk]);
    };
    const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      fusedAttentionContext(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, null, keep, attrs);
    for (const [x, y] of [[fused(q, k, v), reference(q, k, v)],
      ...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fused(a, b, c), probe)))([q, k, v]).map((g, i) =>
        [g, tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(reference(a, b, c), probe)))([q, k, v])[i]])]) {
      expect(maxRel(x.dataSync(), y.dataSync())).toBeLessThan(1e-5);
    }
  });
}

describe('fused attention on cpu', () => checks('cpu'));
describe('fused attention on wasm', () => checks('wasm'));
