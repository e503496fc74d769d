// Plain-JS reference computations (loops over arrays) for the sequence layer tests.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type M = number[][];

export function matmul(a: M, b: M): M {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

export function addRow(a: M, bias: number[] | undefined): M {
  return bias === undefined ? a : a.map((row) => row.map((v, j) => v + bias[j]));
}

/** A layer's weights by short name (the part after the last '/'), as nested arrays. */
export function weightsOf(layer: tfl.layers.Layer): Record<string, number[] & M> {
  // Typed loosely: kernels are read as M, biases and LayerNorm weights as number[].
  const out: Record<string, number[] & M> = {};
  for (const w of layer.weights) {
    const short = w.originalName.split('/').pop() as string;
    out[short] = w.read().arraySync() as number[] & M;
  }
  return out;
}

export interface RefAttentionWeights {
  qk: M; kk: M; vk: M; ok: M; qb?: number[]; kb?: number[]; vb?: number[]; ob?: number[];
}

export function attentionWeightsOf(layer: tfl.layers.Layer, prefix = ''): RefAttentionWeights {
  const w = weightsOf(layer);
  return {
    qk: w[`${prefix}query_kernel`], kk: w[`${prefix}key_kernel`], vk: w[`${prefix}value_kernel`],
    ok: w[`${prefix}output_kernel`], qb: w[`${prefix}query_bias`], kb: w[`${prefix}key_bias`],
    vb: w[`${prefix}value_bias`], ob: w[`${prefix}output_bias`],
  };
}

/** Multi-head attention for one sample: query [Tq][D], value [Tv][Dv], mask [Tv]. */
export function refAttention(query: M, value: M, w: RefAttentionWeights, heads: number,
    keyDim: number, mask: number[] | null, causal: boolean): M {
  const q = addRow(matmul(query, w.qk), w.qb);
  const k = addRow(matmul(value, w.kk), w.kb);
  const v = addRow(matmul(value, w.vk), w.vb);
  const concat: M = query.map(() => new Array(heads * keyDim).fill(0));
  const seesAny = query.map(() => false);
  for (let h = 0; h < heads; h++) {
    const off = h * keyDim;
    for (let i = 0; i < query.length; i++) {
      const allowed = value.map((_, j) => (mask === null || mask[j] !== 0) && (!causal || j <= i));
      if (!allowed.some((a) => a)) continue;
      seesAny[i] = true;
      const scores = value.map((_, j) => {
        let s = 0;
        for (let d = 0; d < keyDim; d++) s += q[i][off + d] * k[j][off + d];
        return s / Math.sqrt(keyDim);
      });
      const max = Math.max(...scores.filter((_, j) => allowed[j]));
      const e = scores.map((s, j) => (allowed[j] ? Math.exp(s - max) : 0));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < value.length; j++) {
        for (let d = 0; d < keyDim; d++) concat[i][off + d] += (e[j] / z) * v[j][off + d];
      }
    }
  }
  const out = addRow(matmul(concat, w.ok), w.ob);
  return out.map((row, i) => (seesAny[i] ? row : row.map(() => 0)));
}

export function refLayerNorm(x: M, gamma: number[], beta: number[], eps: number): M {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((v, j) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[j] + beta[j]);
  });
}

/** Seeded random values as nested arrays: `[rows, cols]`. */
export function random2d(shape: [number, number], seed: number): M {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).arraySync() as M);
}

/** Seeded random values as nested arrays: `[batch, rows, cols]`. */
export function random3d(shape: [number, number, number], seed: number): M[] {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).arraySync() as M[]);
}

/** Largest absolute difference between a tensor and nested arrays. */
export function maxDiff(actual: tf.Tensor, expected: unknown): number {
  const a = actual.dataSync();
  const e = (expected as number[]).flat(3) as number[];
  if (a.length !== e.length) throw new Error(`size ${a.length} vs ${e.length}`);
  return e.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i])), 0);
}

/** Runs `fn` several times and returns how many tensors were left allocated. */
export function leakedTensors(fn: () => tf.Tensor | tf.Tensor[], times = 3): number {
  tf.dispose(fn());
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) tf.dispose(fn());
  return tf.memory().numTensors - before;
}
