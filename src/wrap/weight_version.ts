/**
 * A cheap version stamp of a model's weights, for caches of values computed from them (item
 * vectors, user vectors). TF.js never writes a variable's buffer in place: `assign` (what every
 * optimizer step, `setWeights` and `loadWeights` end in) gives the variable the new value's data
 * id. So the list of data ids changes whenever any weight changes, and holding the old ids keeps
 * them from being reused.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * The data ids of `model`'s weights (one object per weight, in `model.weights` order), or null
 * when one of them is disposed.
 *
 * @example
 * ```ts
 * const stamp = weightVersion(model);
 * await model.fit(xs, ys);
 * sameWeightVersion(stamp, weightVersion(model)); // false: the optimizer assigned new values
 * ```
 */
export function weightVersion(model: tfl.LayersModel): object[] | null {
  const ids: object[] = [];
  for (const w of model.weights) {
    let value: tf.Tensor;
    try {
      value = w.read();
    } catch {
      return null; // read() throws on a disposed LayerVariable
    }
    if (value.isDisposed) return null;
    ids.push(value.dataId);
  }
  return ids;
}

/**
 * Whether two {@link weightVersion} stamps are the same (false when either is null).
 *
 * @example
 * ```ts
 * if (!sameWeightVersion(cached.stamp, weightVersion(model))) rebuild();
 * ```
 */
export function sameWeightVersion(a: readonly object[] | null, b: readonly object[] | null): boolean {
  return a !== null && b !== null && a.length === b.length && a.every((id, i) => id === b[i]);
}
