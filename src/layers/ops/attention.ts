/**
 * Multi-head scaled dot-product attention as plain tensor math, shared by the
 * `MultiHeadAttention` and `TransformerBlock` layers (each owns its weights and passes them in).
 */
import * as tf from '@tensorflow/tfjs-core';

import { NEG_LARGE } from './masked_pooling';
import { binaryMask, causalMask, checkMaskShape } from './sequence_mask';
import { shapeText } from './shape_text';

/** One dense projection: `kernel [in, out]` and an optional `bias [out]`. */
export interface Projection {
  kernel: tf.Tensor2D;
  bias?: tf.Tensor1D;
}

/** The four projections of multi-head attention (heads side by side along `numHeads·keyDim`). */
export interface AttentionWeights {
  /** `[queryDim, numHeads·keyDim]`. */
  query: Projection;
  /** `[valueDim, numHeads·keyDim]`. */
  key: Projection;
  /** `[valueDim, numHeads·keyDim]`. */
  value: Projection;
  /** `[numHeads·keyDim, queryDim]`. */
  output: Projection;
}

/** Names of the projections, in the order a layer creates their weights. */
export const ATTENTION_PARTS = ['query', 'key', 'value', 'output'] as const;

/** One weight a layer must create for {@link computeMultiHeadAttention}. */
export interface AttentionWeightSpec {
  part: (typeof ATTENTION_PARTS)[number];
  kind: 'kernel' | 'bias';
  shape: number[];
}

/**
 * The weights {@link computeMultiHeadAttention} needs, so a layer can create them with `addWeight`.
 *
 * @example
 * ```ts
 * attentionWeightSpecs(8, 8, 2, 4, true).length; // 8: a kernel and a bias per projection
 * ```
 */
export function attentionWeightSpecs(
  queryDim: number, valueDim: number, numHeads: number, keyDim: number, useBias: boolean,
): AttentionWeightSpec[] {
  const inner = numHeads * keyDim;
  const ins = { query: queryDim, key: valueDim, value: valueDim, output: inner };
  const specs: AttentionWeightSpec[] = [];
  for (const part of ATTENTION_PARTS) {
    const out = part === 'output' ? queryDim : inner;
    specs.push({ part, kind: 'kernel', shape: [ins[part], out] });
    if (useBias) specs.push({ part, kind: 'bias', shape: [out] });
  }
  return specs;
}

/** Options of {@link computeMultiHeadAttention}. */
export interface AttentionOptions {
  /** Number of heads. */
  numHeads: number;
  /** Size of each head (queries, keys and values). */
  keyDim: number;
  /** Padding mask of the value sequence, `[batch, valueTime]`, non-zero = valid. Default none. */
  mask?: tf.Tensor | null;
  /** Whether query position i may only see value positions j <= i. Default false. */
  causal?: boolean;
  /** Dropout rate on the attention probabilities, applied only when `training`. Default 0. */
  dropout?: number;
  /** Whether this is a training call (enables dropout). Default false. */
  training?: boolean;
  /** Name used in error messages. Default `'computeMultiHeadAttention'`. */
  caller?: string;
}

function project(x: tf.Tensor3D, p: Projection): tf.Tensor3D {
  const [batch, time, dim] = x.shape;
  let y: tf.Tensor = tf.matMul(tf.reshape(x, [batch * time, dim]), p.kernel);
  if (p.bias !== undefined) y = tf.add(y, p.bias);
  return tf.reshape(y, [batch, time, p.kernel.shape[1]]);
}

/** `[B, T, H·dk]` → `[B·H, T, dk]`. */
function splitHeads(x: tf.Tensor3D, numHeads: number, keyDim: number): tf.Tensor3D {
  const [batch, time] = x.shape;
  const heads = tf.transpose(tf.reshape(x, [batch, time, numHeads, keyDim]), [0, 2, 1, 3]);
  return tf.reshape(heads, [batch * numHeads, time, keyDim]);
}

/**
 * Multi-head attention of `query [batch, queryTime, queryDim]` over
 * `value [batch, valueTime, valueDim]` (keys are projected from `value`; pass the same tensor
 * twice for self-attention) → `[batch, queryTime, queryDim]`.
 *
 * Masked scores are replaced by a large finite negative before the softmax (so no NaN), and a
 * query row that may see no position at all outputs zeros (the output bias included).
 * Heads are folded into the batch (`[batch·heads, time, keyDim]`) so every batched matMul has
 * equal batch dimensions (broadcast batched matMul has wrong gradients, tfjs#8721).
 *
 * @example
 * ```ts
 * const w = (r: number, c: number) => ({ kernel: tf.randomNormal([r, c]) as tf.Tensor2D });
 * const weights = { query: w(4, 4), key: w(4, 4), value: w(4, 4), output: w(4, 4) };
 * const x = tf.randomNormal([2, 3, 4]) as tf.Tensor3D;
 * computeMultiHeadAttention(x, x, weights, { numHeads: 2, keyDim: 2, causal: true }); // [2, 3, 4]
 * ```
 */
export function computeMultiHeadAttention(
  query: tf.Tensor3D, value: tf.Tensor3D, weights: AttentionWeights, options: AttentionOptions,
): tf.Tensor3D {
  const caller = options.caller ?? 'computeMultiHeadAttention';
  const { numHeads, keyDim } = options;
  if (query.rank !== 3) {
    throw new Error(`'query' passed to '${caller}' must have shape [batch, time, dim], got ` +
      shapeText(query.shape));
  }
  if (value.rank !== 3 || value.shape[0] !== query.shape[0]) {
    throw new Error(`'value' passed to '${caller}' must have shape [batch, time, dim] with the ` +
      `batch of 'query' ${shapeText(query.shape)}, got ${shapeText(value.shape)}`);
  }
  const mask = options.mask ?? null;
  if (mask !== null) checkMaskShape(mask.shape, value.shape, caller, 'mask', 'value');
  return tf.tidy(() => {
    const [batch, queryTime, queryDim] = query.shape;
    const valueTime = value.shape[1];
    const q = splitHeads(project(query, weights.query), numHeads, keyDim);
    const k = splitHeads(project(value, weights.key), numHeads, keyDim);
    const v = splitHeads(project(value, weights.value), numHeads, keyDim);
    const scaled = tf.mul(q, 1 / Math.sqrt(keyDim));
    // [B·H, Tq, Tv] → [B, H, Tq, Tv] so masks broadcast element-wise (fine for gradients).
    let scores = tf.reshape(tf.matMul(scaled, k, false, true),
      [batch, numHeads, queryTime, valueTime]);
    let allowed: tf.Tensor | null = null;
    if (mask !== null) allowed = tf.reshape(binaryMask(mask), [batch, 1, 1, valueTime]);
    if (options.causal === true) {
      const c = tf.reshape(causalMask(queryTime, valueTime), [1, 1, queryTime, valueTime]);
      allowed = allowed === null ? c : tf.mul(allowed, c);
    }
    if (allowed !== null) {
      scores = tf.add(tf.mul(scores, allowed), tf.mul(tf.sub(1, allowed), NEG_LARGE));
    }
    // Masked entries are exactly 0 after the softmax (exp underflows); a row with nothing to see
    // is uniform here and zeroed at the output below.
    let probs = tf.softmax(scores);
    const rate = options.dropout ?? 0;
    if (options.training === true && rate > 0) probs = tf.dropout(probs, rate);
    const context = tf.matMul(tf.reshape(probs, [batch * numHeads, queryTime, valueTime]), v);
    const merged: tf.Tensor3D = tf.reshape(
      tf.transpose(tf.reshape(context, [batch, numHeads, queryTime, keyDim]), [0, 2, 1, 3]),
      [batch, queryTime, numHeads * keyDim]);
    let out = project(merged, weights.output);
    if (allowed !== null) {
      // A query row that sees nothing outputs zeros rather than the output bias.
      const full = tf.mul(allowed, tf.ones([batch, 1, queryTime, valueTime]));
      out = tf.mul(out, tf.reshape(tf.max(full, 3), [batch, queryTime, 1]));
    }
    return tf.reshape(out, [batch, queryTime, queryDim]) as tf.Tensor3D;
  });
}

/** Anything holding a weight value, such as a tfjs-layers `LayerVariable`. */
export interface Readable {
  read(): tf.Tensor;
}

/** A layer's attention weights, by projection. */
export type AttentionVariables<V> =
  Record<(typeof ATTENTION_PARTS)[number], { kernel: V; bias?: V }>;

/**
 * Creates the weights of {@link attentionWeightSpecs} through `add` (a layer's `addWeight`),
 * named `<prefix><part>_<kind>`, e.g. `query_kernel`.
 *
 * @example
 * ```ts
 * // inside a Layer's build():
 * this.attention = createAttentionVariables(attentionWeightSpecs(8, 8, 2, 4, true), '',
 *   (name, spec) => this.addWeight(name, spec.shape, 'float32', tfl.initializers.zeros()));
 * ```
 */
export function createAttentionVariables<V>(
  specs: AttentionWeightSpec[], prefix: string, add: (name: string, spec: AttentionWeightSpec) => V,
): AttentionVariables<V> {
  const vars: Partial<AttentionVariables<V>> = {};
  for (const spec of specs) {
    const v = add(`${prefix}${spec.part}_${spec.kind}`, spec);
    const entry = vars[spec.part] ?? (vars[spec.part] = { kernel: v });
    if (spec.kind === 'kernel') entry.kernel = v; else entry.bias = v;
  }
  return vars as AttentionVariables<V>;
}

/**
 * Reads the current values of a layer's attention weights for {@link computeMultiHeadAttention}.
 *
 * @example
 * ```ts
 * const weights = readAttentionWeights(this.attention);
 * computeMultiHeadAttention(x, x, weights, { numHeads: 2, keyDim: 4 });
 * ```
 */
export function readAttentionWeights(vars: AttentionVariables<Readable>): AttentionWeights {
  const read = (p: { kernel: Readable; bias?: Readable }): Projection =>
    (p.bias === undefined ? { kernel: p.kernel.read() as tf.Tensor2D } :
      { kernel: p.kernel.read() as tf.Tensor2D, bias: p.bias.read() as tf.Tensor1D });
  return {
    query: read(vars.query), key: read(vars.key), value: read(vars.value),
    output: read(vars.output),
  };
}
