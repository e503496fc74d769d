/**
 * The backend-independent core of duet-tf's fused Adam kernel (`DuetAdam`): one pass over a
 * variable updating its first moment, second moment and value, with exactly the float32
 * arithmetic of `tf.train.adam`'s op chain (≈ 12 kernel launches and as many passes per
 * variable), so that both give the same weights.
 */

/**
 * Name of the kernel: inputs `w` (the variable's value), `g` (its gradient), `m`, `v` (the
 * moments, like `w`) and `scale` (a float32 scalar the gradient is multiplied by first: the
 * global-norm clipping factor, 1 for none); attributes {@link AdamAttrs}; outputs the new `w`,
 * `m` and `v`.
 *
 * @example
 * ```ts
 * const [w1, m1, v1] = tf.engine().runKernel(ADAM, { w, g, m, v, scale }, attrs) as tf.Tensor[];
 * ```
 */
export const ADAM = 'DuetAdam';

/**
 * The attributes of one `DuetAdam` call.
 *
 * @example
 * ```ts
 * const attrs: AdamAttrs = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, c1: 0.1, c2: 0.001 };
 * ```
 */
export interface AdamAttrs {
  /** Step size. */
  learningRate: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Added to √v̂. */
  epsilon: number;
  /** First-moment bias correction of this step, `1 − beta1^t` in float32. */
  c1: number;
  /** Second-moment bias correction of this step, `1 − beta2^t` in float32. */
  c2: number;
  [key: string]: number;
}

/**
 * The constants of a call as float32 values, in the order the SIMD kernel takes them: the same
 * scalars `tf.train.adam` makes (`beta1`, `1 − beta1`, `beta2`, `1 − beta2`, `c1`, `c2`,
 * `epsilon`, `−learningRate`).
 *
 * @example
 * ```ts
 * const [b1, omb1, b2, omb2, c1, c2, eps, negLr] = adamConstants(attrs);
 * ```
 */
export function adamConstants(a: AdamAttrs): number[] {
  const f = Math.fround;
  return [f(a.beta1), f(1 - a.beta1), f(a.beta2), f(1 - a.beta2), f(a.c1), f(a.c2), f(a.epsilon), f(-a.learningRate)];
}

/**
 * One Adam update of `n` values into `wOut`, `mOut`, `vOut` (which must not alias the inputs),
 * every operation rounded to float32 as tfjs's kernels round it:
 * `g' = g·scale`, `m' = m·β1 + g'·(1−β1)`, `v' = v·β2 + g'²·(1−β2)`,
 * `w' = (m'/c1) / (√(v'/c2) + ε) · (−lr) + w`.
 *
 * @example
 * ```ts
 * adamInto(w, g, m, v, 1, attrs, w1, m1, v1);
 * ```
 */
export function adamInto(w: ArrayLike<number>, g: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>,
    scale: number, attrs: AdamAttrs, wOut: Float32Array, mOut: Float32Array, vOut: Float32Array): void {
  const f = Math.fround;
  const [b1, omb1, b2, omb2, c1, c2, eps, negLr] = adamConstants(attrs);
  const s = f(scale);
  const n = wOut.length;
  for (let i = 0; i < n; i++) {
    const gi = f(g[i] * s);
    const mi = f(f(m[i] * b1) + f(gi * omb1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * omb2));
    const step = f(f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps)) * negLr);
    wOut[i] = step + w[i];
    mOut[i] = mi;
    vOut[i] = vi;
  }
}
