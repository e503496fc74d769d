/**
 * The backend-independent core of duet-tf's fused layer normalisation kernels: the forward pass
 * (`DuetLayerNorm`) and its gradient (`DuetLayerNormGrad`) in one pass each over plain arrays.
 * The op chain it replaces costs ≈ 12 kernel launches forward and ≈ 30 backward per call, each a
 * pass over the whole activation.
 */

/**
 * Name of the forward kernel: inputs `x` (`[..., d]`), `gamma` and `beta` (`[d]`), attribute
 * `epsilon`; output `y` (like `x`).
 *
 * @example
 * ```ts
 * const y = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { epsilon: 1e-6 }) as tf.Tensor;
 * ```
 */
export const LAYER_NORM = 'DuetLayerNorm';

/**
 * Name of the gradient kernel: inputs `dy`, `x`, `gamma`, attribute `epsilon` (each row's
 * statistics are recomputed from `x`: cheaper than keeping them, and no tensor outlives the
 * forward kernel); outputs `dx` (like `x`), `dgamma` and `dbeta` (`[d]`).
 *
 * @example
 * ```ts
 * const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy, x, gamma }, { epsilon: 1e-6 }) as tf.Tensor[];
 * ```
 */
export const LAYER_NORM_GRAD = 'DuetLayerNormGrad';

/**
 * Rows and row length of a layer-norm call, checked: `x` at least rank 1, `gamma` and `beta`
 * `[d]` with `d` its last axis.
 *
 * @example
 * ```ts
 * layerNormPlan([2, 5, 8], [8], [8]); // { rows: 10, d: 8 }
 * ```
 */
export function layerNormPlan(x: readonly number[], gamma: readonly number[], beta: readonly number[]):
    { rows: number; d: number } {
  const d = x[x.length - 1];
  if (x.length < 1) throw new Error(`'x' passed to '${LAYER_NORM}' must have rank 1 or more, got a scalar`);
  for (const [name, shape] of [['gamma', gamma], ['beta', beta]] as const) {
    if (shape.length !== 1 || shape[0] !== d) {
      throw new Error(`'${name}' passed to '${LAYER_NORM}' must have shape [${d}] (the last axis of ` +
        `'x' [${x.join(', ')}]), got [${shape.join(', ')}]`);
    }
  }
  return { rows: x.slice(0, -1).reduce((a, b) => a * b, 1), d };
}

/** Mean and rstd of the row of `d` values at `o`, in float64. */
function rowStats(x: ArrayLike<number>, o: number, d: number, epsilon: number): [number, number] {
  let s = 0;
  for (let j = 0; j < d; j++) s += x[o + j];
  const m = s / d;
  let q = 0;
  for (let j = 0; j < d; j++) q += (x[o + j] - m) ** 2;
  return [m, 1 / Math.sqrt(q / d + epsilon)];
}

/**
 * Forward: `y = (x − mean)·rstd·gamma + beta` per row of `d`, statistics in float64.
 *
 * @example
 * ```ts
 * layerNormInto(x, gamma, beta, 1e-6, { rows, d }, y);
 * ```
 */
export function layerNormInto(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>,
    epsilon: number, plan: { rows: number; d: number }, y: Float32Array): void {
  const { rows, d } = plan;
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    const [m, rs] = rowStats(x, o, d, epsilon);
    for (let j = 0; j < d; j++) y[o + j] = (x[o + j] - m) * rs * gamma[j] + beta[j];
  }
}

/**
 * Gradient: `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))` with `g = dy·gamma`, `x̂ = (x − mean)·rstd`;
 * `dgamma = Σ dy·x̂`, `dbeta = Σ dy` over rows. Statistics recomputed, sums in float64.
 *
 * @example
 * ```ts
 * layerNormGradInto(dy, x, gamma, 1e-6, { rows, d }, dx, dgamma, dbeta);
 * ```
 */
export function layerNormGradInto(dy: ArrayLike<number>, x: ArrayLike<number>, gamma: ArrayLike<number>,
    epsilon: number, plan: { rows: number; d: number }, dx: Float32Array, dgamma: Float32Array,
    dbeta: Float32Array): void {
  const { rows, d } = plan;
  const dg = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    const [m, rs] = rowStats(x, o, d, epsilon);
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j] - m) * rs;
      const g = dy[o + j] * gamma[j];
      sg += g;
      sgx += g * xh;
      dg[j] += dy[o + j] * xh;
      db[j] += dy[o + j];
    }
    const a = sg / d;
    const b = sgx / d;
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j] - m) * rs;
      dx[o + j] = rs * (dy[o + j] * gamma[j] - a - xh * b);
    }
  }
  dgamma.set(dg);
  dbeta.set(db);
}
