/**
 * Zero gradients for comparison and logical kernels. tfjs-core 4.22 registers one for
 * GreaterEqual but not for Greater, Less, Equal, …, so any `tf.where(tf.greater(x, 0), …)` on a
 * tensor being differentiated fails with "gradient function not found for Greater" on every
 * backend. Their outputs are piecewise constant, so their gradient is zero (TensorFlow marks them
 * not differentiable).
 */
import * as tf from '@tensorflow/tfjs-core';

const BINARY = [
  tf.Equal,
  tf.NotEqual,
  tf.Greater,
  tf.Less,
  tf.LessEqual,
  tf.LogicalAnd,
  tf.LogicalOr,
] as const;
const UNARY = [tf.LogicalNot, tf.All, tf.Any] as const;

/**
 * The gradient configs duet-tf adds: zero gradients for the kernels above.
 *
 * @example
 * ```ts
 * console.log(notDifferentiableGradConfigs.map((c) => c.kernelName));
 * ```
 */
export const notDifferentiableGradConfigs: readonly tf.GradConfig[] = [
  ...BINARY.map((kernelName) => ({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [a, b] = saved;
      // Gradients must be float32 even for int32 and bool inputs.
      return { a: () => tf.zeros(a.shape), b: () => tf.zeros(b.shape) };
    },
  })),
  ...UNARY.map((kernelName) => ({
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved;
      return { x: () => tf.zeros(x.shape) };
    },
  })),
];

/**
 * Registers the zero gradients of `notDifferentiableGradConfigs` for the kernels that still have
 * none; kernels that already have a gradient are left alone, so calling it twice is harmless.
 *
 * @example
 * ```ts
 * registerNotDifferentiableGradients();
 * const g = tf.grad((x: tf.Tensor) => tf.where(tf.greater(x, 0), x, tf.zerosLike(x)))(tf.tensor1d([-1, 2]));
 * ```
 */
export function registerNotDifferentiableGradients(): void {
  for (const config of notDifferentiableGradConfigs) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
