/**
 * `stopGradient`: the identity forward, a zero gradient backward. tfjs-core 4.22 has no such op.
 */
import * as tf from '@tensorflow/tfjs-core';

// customGrad passes the inputs followed by a save function; only the one tensor is used.
const blocked = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * Returns `x` unchanged, but no gradient flows back through the result: whatever produced `x` is
 * not trained by what is computed from it.
 *
 * @example
 * ```ts
 * const x = tf.variable(tf.ones([2]));
 * const { grads } = tf.variableGrads(() => tf.sum(tf.mul(stopGradient(x), x)), [x]);
 * grads[x.name]; // [1, 1]: only the second factor carries a gradient
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return blocked(x) as T;
}
