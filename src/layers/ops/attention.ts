/**
 * Multi-head scaled dot-product attention as plain tensor math, shared by the
 * `MultiHeadAttention` and `TransformerBlock` layers (each owns its weights and passes them in).
 */
import * as tf from '@tensorflow/tfjs-core';

import { ATTENTION, ATTENTION_GRAD, type AttentionAttrs } from './attention_impl';
import { ATTENTION_KERNELS } from './attention_kernels';
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

/** Registers the fused kernels where missing (cheap after the first call). */
function registerKernels(): void {
  for (const config of ATTENTION_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
}

// At import too, so that `useBackend` (run after importing duet-tf) can give the wasm kernels
// their SIMD fast path (backend/kernels/AttentionSimd.ts).
registerKernels();

function hasFusedKernels(): boolean {
  registerKernels();
  const backend = tf.engine().backendName;
  return backend != null && tf.getKernel(ATTENTION, backend) != null &&
    tf.getKernel(ATTENTION_GRAD, backend) != null;
}

/**
 * The heads' contexts `[B, Tq, H·dk]` of projected `q`, `k`, `v` (`[B, T, H·dk]`) in one kernel
 * forward and one backward: scores, mask, softmax, dropout and the weighted sum together, the
 * heads read in place (no transposes, no `[B, H, Tq, Tv]` tensors; the backward pass recomputes
 * the probabilities). `keep` is the dropout multiplier `[B, H, Tq, Tv]` or null.
 *
 * @example
 * ```ts
 * const context = fusedAttentionContext(q, k, v, null, null,
 *   { numHeads: 2, scale: 0.5, causal: true, hasMask: false, hasKeep: false }); // like q
 * ```
 */
export function fusedAttentionContext(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor | null,
    keep: tf.Tensor | null, attrs: AttentionAttrs): tf.Tensor3D {
  const engine = tf.engine();
  const extras = (m: tf.Tensor | null, kp: tf.Tensor | null) => ({
    ...(m === null ? {} : { mask: m }), ...(kp === null ? {} : { keep: kp }),
  });
  const f = tf.customGrad(((qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = engine.runKernel(ATTENTION, { q: qs, k: ks, v: vs, ...extras(mask, keep) },
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    // The mask and dropout multipliers are saved too: the caller's tidy frees them before backward.
    save([qs, ks, vs, ...(mask === null ? [] : [mask]), ...(keep === null ? [] : [keep])]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sq, sk, sv, ...rest] = saved;
        const m = mask === null ? null : rest.shift() as tf.Tensor;
        const kp = keep === null ? null : rest.shift() as tf.Tensor;
        return engine.runKernel(ATTENTION_GRAD, { dy: dy as tf.Tensor, q: sq, k: sk, v: sv, ...extras(m, kp) },
          attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(q, k, v) as tf.Tensor3D;
}

/** `[B, T, H·dk]` → `[B·H, T, dk]`. */
function splitHeads(x: tf.Tensor3D, numHeads: number, keyDim: number): tf.Tensor3D {
  const [batch, time] = x.shape;
  const heads = tf.transpose(tf.reshape(x, [batch, time, numHeads, keyDim]), [0, 2, 1, 3]);
  return tf.reshape(heads, [batch * numHeads, time, keyDim]);
}

/** The op chain of the heads' contexts `[B, Tq, H·dk]` (every backend differentiates it). */
function unfusedContext(query: tf.Tensor3D, value: tf.Tensor3D, weights: AttentionWeights,
    mask: tf.Tensor | null, options: AttentionOptions, dropout: number): tf.Tensor3D {
  const { numHeads, keyDim } = options;
  const [batch, queryTime] = query.shape;
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
  // is uniform here and zeroed at the output by the caller.
  let probs = tf.softmax(scores);
  if (dropout > 0) probs = tf.dropout(probs, dropout);
  const context = tf.matMul(tf.reshape(probs, [batch * numHeads, queryTime, valueTime]), v);
  return tf.reshape(
    tf.transpose(tf.reshape(context, [batch, numHeads, queryTime, keyDim]), [0, 2, 1, 3]),
    [batch, queryTime, numHeads * keyDim]);
}

/**
 * Multi-head attention of `query [batch, queryTime, queryDim]` over
 * `value [batch, valueTime, valueDim]` (keys are projected from `value`; pass the same tensor
 * twice for self-attention) → `[batch, queryTime, queryDim]`.
 *
 * Masked scores are replaced by a large finite negative before the softmax (so no NaN), and a
 * query row that may see no position at all outputs zeros (the output bias included).
 * On backends with duet-tf's fused attention kernels (cpu, wasm) the scores, softmax, dropout
 * and weighted values of all heads run as one kernel with its own gradient; elsewhere as an op
 * chain with the heads folded into the batch (`[batch·heads, time, keyDim]`) so every batched
 * matMul has equal batch dimensions (broadcast batched matMul has wrong gradients, tfjs#8721).
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
  return multiHeadAttention(query, value, weights, options, true);
}

/**
 * {@link computeMultiHeadAttention} as the op chain on every backend (the reference the fused
 * kernels are tested against).
 *
 * @example
 * ```ts
 * computeMultiHeadAttentionByOps(x, x, weights, { numHeads: 2, keyDim: 2, causal: true });
 * ```
 */
export function computeMultiHeadAttentionByOps(
  query: tf.Tensor3D, value: tf.Tensor3D, weights: AttentionWeights, options: AttentionOptions,
): tf.Tensor3D {
  return multiHeadAttention(query, value, weights, options, false);
}

function multiHeadAttention(query: tf.Tensor3D, value: tf.Tensor3D, weights: AttentionWeights,
    options: AttentionOptions, mayFuse: boolean): tf.Tensor3D {
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
    const rate = options.dropout ?? 0;
    const dropping = options.training === true && rate > 0;
    let merged: tf.Tensor3D;
    if (mayFuse && query.dtype === 'float32' && value.dtype === 'float32' && hasFusedKernels()) {
      // The dropout multipliers tf.dropout would draw, made here so the kernel can apply them.
      const keep = dropping ? tf.div(tf.floor(tf.add(
        tf.randomUniform([batch, numHeads, queryTime, valueTime], 0, 1, 'float32'), 1 - rate)), 1 - rate) : null;
      merged = fusedAttentionContext(project(query, weights.query), project(value, weights.key),
        project(value, weights.value), mask === null ? null : binaryMask(mask), keep,
        { numHeads, scale: 1 / Math.sqrt(keyDim), causal: options.causal === true,
          hasMask: mask !== null, hasKeep: keep !== null });
    } else {
      merged = unfusedContext(query, value, weights, mask, options, dropping ? rate : 0);
    }
    let out = project(merged, weights.output);
    // Only a padding mask can leave a query row nothing to see (causal rows always see their own
    // position, unless padded).
    if (mask !== null) {
      let allowed = tf.reshape(binaryMask(mask), [batch, 1, 1, valueTime]);
      if (options.causal === true) {
        allowed = tf.mul(allowed, tf.reshape(causalMask(queryTime, valueTime), [1, 1, queryTime, valueTime]));
      }
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
