/**
 * The backend-independent core of duet-tf's fused attention kernels (`DuetAttention` and
 * `DuetAttentionGrad`): scores, mask, softmax, dropout and the weighted values of every head in
 * one pass over plain arrays, reading the heads where the projections put them (side by side in
 * the last axis), so neither the heads' transposes nor the `[batch, heads, T, T]` score tensors
 * of the op chain are made. The backward pass recomputes the probabilities.
 */

/**
 * Name of the forward kernel: inputs `q` `[b, tq, h·dk]`, `k` and `v` `[b, tv, h·dk]`, then
 * `mask` `[b, tv]` (non-zero = valid) when `hasMask`, then `keep` `[b, h, tq, tv]` (dropout
 * multipliers, 0 or 1/(1 − rate)) when `hasKeep`; attributes `numHeads`, `scale`, `causal`,
 * `hasMask`, `hasKeep`. Output: the heads' contexts `[b, tq, h·dk]`.
 *
 * @example
 * ```ts
 * const context = tf.engine().runKernel(ATTENTION, { q, k, v }, { numHeads: 4, scale: 0.35, causal: true, hasMask: false, hasKeep: false });
 * ```
 */
export const ATTENTION = 'DuetAttention';

/**
 * Name of the gradient kernel: inputs `dy` (like the forward's output), then the forward's
 * inputs; the same attributes. Outputs `dq`, `dk`, `dv`.
 *
 * @example
 * ```ts
 * const [dq, dk, dv] = tf.engine().runKernel(ATTENTION_GRAD, { dy, q, k, v }, attrs) as tf.Tensor[];
 * ```
 */
export const ATTENTION_GRAD = 'DuetAttentionGrad';

/** Attributes of both kernels. */
export interface AttentionAttrs {
  numHeads: number;
  scale: number;
  causal: boolean;
  hasMask: boolean;
  hasKeep: boolean;
}

/** Sizes of one call. */
export interface AttentionPlan {
  b: number; tq: number; tv: number; h: number; dk: number;
}

/** The masked score of a disallowed position (the op chain's NEG_LARGE). */
const NEG_LARGE = -1e9;

/**
 * Checks the shapes of a call and returns its sizes.
 *
 * @example
 * ```ts
 * attentionPlan([2, 5, 8], [2, 5, 8], [2, 5, 8], [2, 5], null, 2); // { b: 2, tq: 5, tv: 5, h: 2, dk: 4 }
 * ```
 */
export function attentionPlan(q: readonly number[], k: readonly number[], v: readonly number[],
    mask: readonly number[] | null, keep: readonly number[] | null, numHeads: number): AttentionPlan {
  const bad = (name: string, expected: string, got: readonly number[]) => new Error(
    `'${name}' passed to '${ATTENTION}' must have shape ${expected}, got [${got.join(', ')}]`);
  if (q.length !== 3 || q[2] % numHeads !== 0) throw bad('q', `[batch, time, ${numHeads}·keyDim]`, q);
  const [b, tq, width] = q;
  if (k.length !== 3 || k[0] !== b || k[2] !== width) throw bad('k', `[${b}, time, ${width}]`, k);
  const tv = k[1];
  if (v.length !== 3 || v[0] !== b || v[1] !== tv || v[2] !== width) throw bad('v', `[${b}, ${tv}, ${width}]`, v);
  if (mask !== null && (mask.length !== 2 || mask[0] !== b || mask[1] !== tv)) throw bad('mask', `[${b}, ${tv}]`, mask);
  if (keep !== null && (keep.length !== 4 || keep[0] !== b || keep[1] !== numHeads || keep[2] !== tq || keep[3] !== tv)) {
    throw bad('keep', `[${b}, ${numHeads}, ${tq}, ${tv}]`, keep);
  }
  return { b, tq, tv, h: numHeads, dk: width / numHeads };
}

/**
 * The probabilities of query row `i` of head `hi` of batch row `bi` into `p` (length tv), and
 * which positions were allowed: a row that may see nothing gets 1/tv everywhere (a softmax over
 * equal scores, as the op chain gives). Float64 inside.
 */
function rowProbabilities(q: ArrayLike<number>, k: ArrayLike<number>, mask: ArrayLike<number> | null,
    a: AttentionAttrs, plan: AttentionPlan, bi: number, hi: number, i: number, p: Float64Array,
    allowed: Uint8Array): void {
  const { tq, tv, h, dk } = plan;
  const stride = h * dk;
  const qo = (bi * tq + i) * stride + hi * dk;
  let max = -Infinity;
  let any = false;
  for (let j = 0; j < tv; j++) {
    const ok = (!a.causal || j <= i) && (mask === null || mask[bi * tv + j] !== 0);
    allowed[j] = ok ? 1 : 0;
    any ||= ok;
    if (!ok) {
      p[j] = NEG_LARGE;
    } else {
      const ko = (bi * tv + j) * stride + hi * dk;
      let s = 0;
      for (let d = 0; d < dk; d++) s += q[qo + d] * k[ko + d];
      p[j] = s * a.scale;
    }
    if (p[j] > max) max = p[j];
  }
  if (!any) {
    p.fill(1 / tv);
    return;
  }
  let sum = 0;
  for (let j = 0; j < tv; j++) {
    p[j] = allowed[j] === 1 ? Math.exp(p[j] - max) : 0;
    sum += p[j];
  }
  for (let j = 0; j < tv; j++) p[j] /= sum;
}

/**
 * Forward: `out = (softmax(scale·q·kᵀ, masked) ⊙ keep)·v` per head.
 *
 * @example
 * ```ts
 * attentionInto(q, k, v, null, null, attrs, plan, out);
 * ```
 */
export function attentionInto(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
    mask: ArrayLike<number> | null, keep: ArrayLike<number> | null, a: AttentionAttrs, plan: AttentionPlan,
    out: Float32Array): void {
  const { b, tq, tv, h, dk } = plan;
  const stride = h * dk;
  const p = new Float64Array(tv);
  const allowed = new Uint8Array(tv);
  const acc = new Float64Array(dk);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 0; i < tq; i++) {
        rowProbabilities(q, k, mask, a, plan, bi, hi, i, p, allowed);
        acc.fill(0);
        const keepRow = ((bi * h + hi) * tq + i) * tv;
        for (let j = 0; j < tv; j++) {
          const pj = keep === null ? p[j] : p[j] * keep[keepRow + j];
          if (pj === 0) continue;
          const vo = (bi * tv + j) * stride + hi * dk;
          for (let d = 0; d < dk; d++) acc[d] += pj * v[vo + d];
        }
        out.set(acc, (bi * tq + i) * stride + hi * dk);
      }
    }
  }
}

/**
 * Gradient, probabilities recomputed: `dS = P ⊙ (dP − Σ P⊙dP)` with `dP = (dy·vᵀ) ⊙ keep`, zero
 * where a position was not allowed; `dq = scale·dS·k`, `dk = scale·dSᵀ·q`, `dv = (P⊙keep)ᵀ·dy`.
 *
 * @example
 * ```ts
 * attentionGradInto(dy, q, k, v, null, null, attrs, plan, dq, dk, dv);
 * ```
 */
export function attentionGradInto(dy: ArrayLike<number>, q: ArrayLike<number>, k: ArrayLike<number>,
    v: ArrayLike<number>, mask: ArrayLike<number> | null, keep: ArrayLike<number> | null, a: AttentionAttrs,
    plan: AttentionPlan, dq: Float32Array, dk: Float32Array, dv: Float32Array): void {
  const { b, tq, tv, h, dk: width } = plan;
  const stride = h * width;
  const p = new Float64Array(tv);
  const ds = new Float64Array(tv);
  const allowed = new Uint8Array(tv);
  const gk = new Float64Array(b * tv * stride);
  const gv = new Float64Array(b * tv * stride);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 0; i < tq; i++) {
        rowProbabilities(q, k, mask, a, plan, bi, hi, i, p, allowed);
        const qo = (bi * tq + i) * stride + hi * width;
        const keepRow = ((bi * h + hi) * tq + i) * tv;
        let c = 0;
        for (let j = 0; j < tv; j++) {
          const vo = (bi * tv + j) * stride + hi * width;
          const kj = keep === null ? 1 : keep[keepRow + j];
          let s = 0;
          for (let d = 0; d < width; d++) {
            s += dy[qo + d] * v[vo + d];
            gv[vo + d] += p[j] * kj * dy[qo + d];
          }
          ds[j] = s * kj;
          c += p[j] * ds[j];
        }
        for (let d = 0; d < width; d++) dq[qo + d] = 0;
        const gq = new Float64Array(width);
        for (let j = 0; j < tv; j++) {
          const g = allowed[j] === 1 ? p[j] * (ds[j] - c) * a.scale : 0;
          if (g === 0) continue;
          const ko = (bi * tv + j) * stride + hi * width;
          for (let d = 0; d < width; d++) {
            gq[d] += g * k[ko + d];
            gk[ko + d] += g * q[qo + d];
          }
        }
        dq.set(gq, qo);
      }
    }
  }
  dk.set(gk);
  dv.set(gv);
}
