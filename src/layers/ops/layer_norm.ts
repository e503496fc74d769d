/**
 * Layer normalisation over the last axis, as plain tensor math for layers that own the weights.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `(x − mean) / sqrt(var + epsilon) · gamma + beta`, statistics over the last axis of `x`.
 *
 * @example
 * ```ts
 * layerNorm(tf.tensor2d([[1, 3]]), tf.ones([2]), tf.zeros([2]), 1e-6); // ≈ [[-1, 1]]
 * ```
 */
export function layerNorm(
  x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number,
): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normed, gamma), beta);
  });
}
