/**
 * Adam with one fused kernel per variable (`DuetAdam`): the moments and the value updated in a
 * single pass, the gradient's clipping factor applied inside it, instead of `tf.train.adam`'s
 * ≈ 12 element-wise kernels (and as many temporary tensors) per variable and step. Same float32
 * arithmetic, so the same weights. Used by training where the backend has the kernel (cpu,
 * wasm); `tf.train.adam` elsewhere. Internal.
 */
import * as tf from '@tensorflow/tfjs-core';

import { ADAM, type AdamAttrs } from './adam_impl';
import { registerAdamKernels } from './adam_kernels';

/**
 * Whether the current backend has the fused kernel.
 *
 * @example
 * ```ts
 * const optimizer = fusedAdamAvailable() ? new FusedAdam(1e-3) : tf.train.adam(1e-3);
 * ```
 */
export function fusedAdamAvailable(): boolean {
  registerAdamKernels();
  const backend = tf.getBackend();
  return backend != null && tf.getKernel(ADAM, backend) != null;
}

/**
 * Adam (Kingma & Ba), as `tf.train.adam(learningRate, beta1, beta2, epsilon)` computes it, one
 * kernel per variable. Moments are kept per variable name; a variable without a gradient in a
 * step keeps its moments (and, as in tfjs, the step still counts for the bias corrections).
 *
 * @example
 * ```ts
 * const adam = new FusedAdam(1e-3);
 * const { value, grads } = tf.variableGrads(() => loss(), variables);
 * adam.applyGradients(grads);   // or applyGradients(grads, clipScale) to scale them first
 * adam.dispose();
 * ```
 */
export class FusedAdam {
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private readonly epsilon: number;
  /** beta1^t and beta2^t of the next step, as tfjs keeps them (float32 products). */
  private acc1: number;
  private acc2: number;

  constructor(readonly learningRate: number, readonly beta1 = 0.9, readonly beta2 = 0.999, epsilon?: number) {
    this.epsilon = epsilon ?? tf.backend().epsilon();
    this.acc1 = Math.fround(beta1);
    this.acc2 = Math.fround(beta2);
  }

  /**
   * One step on `grads` (by variable name, as `tf.variableGrads` returns them), each gradient
   * multiplied by `scale` first (a float32 scalar, e.g. the global-norm clipping factor). The
   * gradients and `scale` stay the caller's.
   */
  applyGradients(grads: tf.NamedTensorMap, scale?: tf.Scalar): void {
    const f = Math.fround;
    const attrs: AdamAttrs = {
      learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon,
      c1: f(1 - this.acc1), c2: f(1 - this.acc2),
    };
    const engine = tf.engine();
    const one = scale === undefined ? tf.scalar(1) : null;
    try {
      for (const [name, g] of Object.entries(grads)) {
        if (g == null) continue;
        const w = engine.registeredVariables[name];
        if (w === undefined) throw new Error(`FusedAdam: no variable named '${name}'`);
        let state = this.moments.get(name);
        if (state === undefined) {
          state = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(w), false), v: tf.variable(tf.zerosLike(w), false) }));
          this.moments.set(name, state);
        }
        const [w1, m1, v1] = engine.runKernel(ADAM,
          { w, g, m: state.m, v: state.v, scale: scale ?? (one as tf.Scalar) },
          attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        w.assign(w1);
        state.m.assign(m1);
        state.v.assign(v1);
        tf.dispose([w1, m1, v1]);
      }
    } finally {
      one?.dispose();
    }
    this.acc1 = f(this.acc1 * f(this.beta1));
    this.acc2 = f(this.acc2 * f(this.beta2));
  }

  /**
   * The state a later step depends on: `beta1^t`, `beta2^t` (float32 products, exactly as kept)
   * and copies of each variable's moments, by variable name. For checkpoints.
   */
  exportState(): { acc1: number; acc2: number; moments: Map<string, { m: Float32Array; v: Float32Array }> } {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const [name, { m, v }] of this.moments) {
      moments.set(name, { m: Float32Array.from(m.dataSync() as Float32Array), v: Float32Array.from(v.dataSync() as Float32Array) });
    }
    return { acc1: this.acc1, acc2: this.acc2, moments };
  }

  /** Replaces the state with one from {@link FusedAdam.exportState} (moments by variable name, shapes from the variables). */
  importState(state: { acc1: number; acc2: number; moments: Map<string, { m: Float32Array; v: Float32Array }> }): void {
    const engine = tf.engine();
    const fresh = new Map<string, { m: tf.Variable; v: tf.Variable }>();
    for (const [name, { m, v }] of state.moments) {
      const w = engine.registeredVariables[name];
      if (w === undefined) throw new Error(`FusedAdam: no variable named '${name}'`);
      fresh.set(name, tf.tidy(() => ({
        m: tf.variable(tf.tensor(m, w.shape, 'float32'), false), v: tf.variable(tf.tensor(v, w.shape, 'float32'), false),
      })));
    }
    this.dispose();
    for (const [name, state2] of fresh) this.moments.set(name, state2);
    this.acc1 = state.acc1;
    this.acc2 = state.acc2;
  }

  /** Frees the moments. */
  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}
