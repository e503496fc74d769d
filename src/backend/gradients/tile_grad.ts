/**
 * A gradient for `tf.tile` in one reshape and one sum. tfjs-core 4.22's adds up one slice of `dy`
 * per repetition (two kernel launches each), so tiling a `[1, 64]` gain over 4,500 rows — what
 * tfjs-layers' `LayerNormalization` does to its gamma and beta (and its moments) on every call —
 * costs ≈ 18,000 kernel launches backward. Same values (the order of the float32 additions may
 * differ), any rank (tfjs's stops at 4).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `∂/∂x` of `tile(x, reps)` for the incoming gradient `dy`: axis i of `dy` (size
 * `reps[i] · x.shape[i]`, repetition-major) is viewed as `[reps[i], x.shape[i]]` and the
 * repetition axes are summed.
 *
 * @example
 * ```ts
 * tileGradient(tf.ones([6, 2]), [1, 2], [3, 1]); // [[3, 3]]
 * ```
 */
export function tileGradient(dy: tf.Tensor, xShape: readonly number[], reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    if (tf.util.sizeFromShape(xShape as number[]) === 0) return tf.zeros(xShape as number[]);
    const shape: number[] = [];
    const axes: number[] = [];
    xShape.forEach((size, i) => {
      if (reps[i] > 1) {
        axes.push(shape.length);
        shape.push(reps[i]);
      }
      if (size > 1) shape.push(size);
    });
    if (axes.length === 0) return tf.reshape(dy, xShape as number[]);
    return tf.reshape(tf.sum(tf.reshape(dy, shape), axes), xShape as number[]);
  });
}

/**
 * The gradient config of `Tile` with {@link tileGradient}.
 *
 * @example
 * ```ts
 * tf.registerGradient(tileGradConfig);
 * ```
 */
export const tileGradConfig: tf.GradConfig = {
  kernelName: tf.Tile,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const [x] = saved;
    const reps = (attrs as unknown as { reps: number[] }).reps;
    return { x: () => tileGradient(dy as tf.Tensor, x.shape, reps) };
  },
};

/**
 * Puts {@link tileGradConfig} in place of tfjs-core's Tile gradient (idempotent).
 *
 * @example
 * ```ts
 * registerTileGradient();
 * ```
 */
export function registerTileGradient(): void {
  if (tf.getGradient(tf.Tile) !== tileGradConfig) tf.registerGradient(tileGradConfig);
}
