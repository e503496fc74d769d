/**
 * The GRU recurrence's two forms: the one-kernel inference path (no gradient tape) and the op
 * path (under a tape) give the values of the former op-by-op implementation, on cpu and wasm,
 * and the op path its gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../../src/backend/use_backend';
import { gruEncode, type GruWeights } from '../../../src/layers/ops/gru_recurrence';
import { GRU_ENCODE } from '../../../src/layers/ops/gru_encode_kernels';
import { GRU_SEQUENCE, gruSequenceInto, planGruSequence } from '../../../src/layers/ops/gru_sequence_impl';
import { BLAS_MIN_BATCH } from '../../../src/layers/ops/gru_sequence_wasm';

/** The implementation this file replaced (20 ops per step), kept as the reference. */
function legacyGru(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor2D {
  const [batch, time, dim] = seq.shape;
  const units = w.recurrent.shape[0];
  const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(seq, [batch * time, dim]), w.kernel),
    w.bias), [batch, time, 3 * units]);
  const steps = tf.unstack(projected, 1);
  const masks = tf.unstack(tf.reshape(mask, [batch, time, 1]), 1);
  const [uz, ur, uh] = tf.split(w.recurrent, 3, 1);
  const uzr = tf.concat([uz, ur], 1);
  let h: tf.Tensor2D = tf.zeros([batch, units]);
  for (let t = 0; t < time; t++) {
    const [xz, xr, xh] = tf.split(steps[t], 3, 1);
    const [hz, hr] = tf.split(tf.matMul(h, uzr), 2, 1);
    const z = tf.sigmoid(tf.add(xz, hz));
    const r = tf.sigmoid(tf.add(xr, hr));
    const candidate = tf.tanh(tf.add(xh, tf.matMul(tf.mul(r, h), uh)));
    const next = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate));
    const m = masks[t];
    h = tf.add(tf.mul(m, next), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
  }
  return h;
}

const B = 6;
const T = 7;
const D = 5;
const U = 4;
// Full, right-padded, left-padded, holes, all padding, one item at the start.
const MASK = [
  [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1],
  [1, 0, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0],
];

interface Case { seq: tf.Tensor3D; mask: tf.Tensor2D; w: GruWeights; all: tf.Tensor[] }

/** `MASK`'s rows, or for a larger batch its rows cycled with step 0 padded everywhere. */
function makeCase(batch = B): Case {
  const r = (shape: number[], seed: number, scale = 1) =>
    tf.mul(tf.randomUniform(shape, -1, 1, 'float32', seed), scale);
  const seq = r([batch, T, D], 1, 2) as tf.Tensor3D;
  const rows = batch === B ? MASK :
    Array.from({ length: batch }, (_, i) => MASK[i % B].map((v, t) => (t === 0 ? 0 : v)));
  const mask = tf.tensor2d(rows);
  const w = {
    kernel: r([D, 3 * U], 2) as tf.Tensor2D,
    recurrent: r([U, 3 * U], 3, 1.5) as tf.Tensor2D,
    bias: r([3 * U], 4, 0.5) as tf.Tensor1D,
  };
  return { seq, mask, w, all: [seq, mask, w.kernel, w.recurrent, w.bias] };
}

/** Gradients of a weighted sum of the final state with respect to seq and the three weights. */
function gradients(c: Case, f: typeof gruEncode): number[][] {
  const probe = tf.randomUniform([c.seq.shape[0], U], -1, 1, 'float32', 9);
  const g = tf.grads((seq: tf.Tensor, kernel: tf.Tensor, recurrent: tf.Tensor, bias: tf.Tensor) =>
    tf.sum(tf.mul(f(seq as tf.Tensor3D, c.mask,
      { kernel: kernel as tf.Tensor2D, recurrent: recurrent as tf.Tensor2D, bias: bias as tf.Tensor1D }),
    probe)))([c.seq, c.w.kernel, c.w.recurrent, c.w.bias]);
  const out = g.map((t) => Array.from(t.dataSync()));
  tf.dispose([...g, probe]);
  return out;
}

/** The state computed while a tape records, i.e. by the op path. */
function opPathState(c: Case): number[] {
  let state: number[] = [];
  const g = tf.grad((s: tf.Tensor) => {
    const h = gruEncode(s as tf.Tensor3D, c.mask, c.w);
    state = Array.from(h.dataSync());
    return tf.sum(h);
  })(c.seq);
  g.dispose();
  return state;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function checks(backend: 'cpu' | 'wasm') {
  let c: Case;
  beforeAll(async () => {
    if (backend === 'wasm') expect(await useBackend('wasm')).toBe('wasm');
    c = makeCase();
  });
  afterAll(async () => {
    tf.dispose(c.all);
    if (backend === 'wasm') await useBackend('cpu');
  });

  it('runs inference as one DuetGruEncode kernel (projection and recurrence), and ops under a tape', async () => {
    // The main case stays below the batch where wasm moves the products to XNNPACK.
    expect(B).toBeLessThan(BLAS_MIN_BATCH);
    const inference = await tf.profile(() => gruEncode(c.seq, c.mask, c.w));
    // Reshapes are free; the profile also lists op wrappers ('fusedMatMul__op').
    const work = inference.kernels.map((k) => k.name).filter((n) => n !== 'Reshape' && !n.endsWith('__op'));
    expect(work).toEqual([GRU_ENCODE]);
    const training = await tf.profile(() => {
      const g = tf.grad((s: tf.Tensor) => tf.sum(gruEncode(s as tf.Tensor3D, c.mask, c.w)))(c.seq);
      g.dispose();
    });
    expect(training.kernelNames).not.toContain(GRU_ENCODE);
    expect(training.kernelNames).not.toContain(GRU_SEQUENCE);
  });

  it('gives DuetGruSequence of the projection from DuetGruEncode (the kernel it composes on this backend)', () => {
    const [batch, time, dim] = c.seq.shape;
    const units = c.w.recurrent.shape[0];
    const [fused, split] = tf.tidy(() => [
      tf.engine().runKernel(GRU_ENCODE, { x: c.seq, kernel: c.w.kernel, bias: c.w.bias, recurrent: c.w.recurrent,
        mask: c.mask }, {}) as tf.Tensor,
      tf.engine().runKernel(GRU_SEQUENCE, { x: tf.reshape(tf.add(tf.matMul(tf.reshape(c.seq, [batch * time, dim]),
        c.w.kernel), c.w.bias), [batch, time, 3 * units]), recurrent: c.w.recurrent, mask: c.mask }, {}) as tf.Tensor,
    ]);
    expect(maxAbs(fused.dataSync(), split.dataSync())).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(fused.dataSync(), Math.abs))).toBeGreaterThan(1e-2);
    tf.dispose([fused, split]);
  });

  it('gives the former implementation\'s state on both paths (1e-5), zeros for all padding', () => {
    const expected = tf.tidy(() => legacyGru(c.seq, c.mask, c.w));
    const legacy = expected.dataSync();
    const before = tf.memory().numTensors;
    const fast = gruEncode(c.seq, c.mask, c.w);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(fast.shape).toEqual([B, U]);
    expect(maxAbs(fast.dataSync(), legacy)).toBeLessThan(1e-5);
    expect(maxAbs(opPathState(c), legacy)).toBeLessThan(1e-5);
    expect(Array.from(fast.dataSync().slice(4 * U, 5 * U))).toEqual([0, 0, 0, 0]);
    // The rows must differ, or the masks were not read.
    expect(maxAbs(fast.dataSync().slice(0, U), fast.dataSync().slice(U, 2 * U))).toBeGreaterThan(1e-3);
    tf.dispose([fast, expected]);
  });

  it('has the former implementation\'s gradients (1e-5), without leaking', () => {
    const expected = gradients(c, legacyGru);
    const before = tf.memory().numTensors;
    const actual = gradients(c, gruEncode);
    expect(tf.memory().numTensors).toBe(before);
    expected.forEach((g, i) => {
      const scale = Math.max(1, ...g.map(Math.abs));
      expect(maxAbs(actual[i], g) / scale, `gradient ${i}`).toBeLessThan(1e-5);
    });
  });

  it(`gives the same state at batch ${BLAS_MIN_BATCH + 3} (wasm: recurrent products in XNNPACK)`, () => {
    const big = makeCase(BLAS_MIN_BATCH + 3);
    const legacy = tf.tidy(() => legacyGru(big.seq, big.mask, big.w));
    // No buffer left behind on the backend (the wasm kernel allocates scratch buffers).
    const buffers = tf.backend().numDataIds();
    gruEncode(big.seq, big.mask, big.w).dispose();
    gruEncode(c.seq, c.mask, c.w).dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    const fast = gruEncode(big.seq, big.mask, big.w);
    expect(maxAbs(fast.dataSync(), legacy.dataSync())).toBeLessThan(1e-5);
    expect(maxAbs(opPathState(big), legacy.dataSync())).toBeLessThan(1e-5);
    tf.dispose([legacy, fast, ...big.all]);
  });

  it('treats any non-zero mask value as valid, as the op path does', () => {
    const scaled = tf.mul(c.mask, 3) as tf.Tensor2D;
    const a = gruEncode(c.seq, scaled, c.w);
    const b = gruEncode(c.seq, c.mask, c.w);
    expect(maxAbs(a.dataSync(), b.dataSync())).toBe(0);
    expect(maxAbs(opPathState({ ...c, mask: scaled }), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([scaled, a, b]);
  });
}

describe('gruEncode on cpu', () => checks('cpu'));
describe('gruEncode on wasm', () => checks('wasm'));

describe('DuetGruSequence shapes', () => {
  it('rejects inconsistent shapes, naming the argument', () => {
    expect(() => planGruSequence([2, 3, 12], [4, 8], [2, 3])).toThrow(/'recurrent' passed to 'DuetGruSequence'/);
    expect(() => planGruSequence([2, 3, 9], [4, 12], [2, 3])).toThrow(/'x' passed to 'DuetGruSequence' must have shape \[batch, time, 12\]/);
    expect(() => planGruSequence([2, 3, 12], [4, 12], [3, 2])).toThrow(/'mask' passed to 'DuetGruSequence' must have shape \[2, 3\]/);
  });

  it('handles an empty batch and a single unit', () => {
    const out = new Float32Array(0);
    gruSequenceInto(new Float32Array(0), new Float32Array(12), new Float32Array(0), planGruSequence([0, 3, 12], [4, 12], [0, 3]), out);
    const one = new Float32Array(1);
    // units 1, one step: z = σ(0) = 0.5, h̃ = tanh(1) → h = 0.5·tanh(1).
    gruSequenceInto(new Float32Array([0, 0, 1]), new Float32Array([0, 0, 0]), new Float32Array([1]), planGruSequence([1, 1, 3], [1, 3], [1, 1]), one);
    expect(one[0]).toBeCloseTo(0.5 * Math.tanh(1), 6);
  });
});
