/**
 * Cheap summaries of a device's recent behaviour, for the `drift` request policy: a vector per
 * window of item ids, compared by cosine distance.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Turns a window of item ids (oldest first) into a vector. */
export type BehaviourSummary = (ids: readonly number[]) => Float32Array;

/**
 * A signed hashed bag of ids: each id adds ±1 to one of `buckets` slots. Needs nothing from the
 * model; two windows sharing most items get nearby vectors.
 *
 * @example
 * ```ts
 * const summary = hashedBag(64);
 * cosineDistance(summary([1, 2, 3]), summary([1, 2, 3])); // 0
 * ```
 */
export function hashedBag(buckets = 64): BehaviourSummary {
  if (!Number.isInteger(buckets) || buckets <= 0) {
    throw new Error(`'buckets' passed to 'hashedBag' must be a positive integer, got ${String(buckets)}`);
  }
  return (ids) => {
    const v = new Float32Array(buckets);
    for (const id of ids) {
      // Knuth's multiplicative hash; the top bit picks the sign.
      const h = Math.imul(id | 0, 0x9e3779b1) >>> 0;
      v[h % buckets] += h & 0x80000000 ? -1 : 1;
    }
    return v;
  };
}

/**
 * The mean embedding of the window's items, from an item embedding table `[vocab, dim]` (for
 * instance the device model's own item embedding layer); ids outside the table are skipped.
 *
 * @example
 * ```ts
 * const table = deviceModel.getLayer('itemEmbedding').getWeights()[0] as tf.Tensor2D;
 * const summary = embeddingMean(table);
 * ```
 */
export function embeddingMean(table: tf.Tensor2D | { values: Float32Array; dim: number }):
    BehaviourSummary {
  let values: Float32Array;
  let dim: number;
  if (table instanceof tf.Tensor) {
    if (table.rank !== 2) {
      throw new Error(`'table' passed to 'embeddingMean' must have shape [vocab, dim], got ` +
        `[${table.shape.join(', ')}]`);
    }
    values = Float32Array.from(table.dataSync());
    dim = table.shape[1];
  } else {
    values = table?.values;
    dim = table?.dim;
    if (!(values instanceof Float32Array) || !Number.isInteger(dim) || dim <= 0 ||
        values.length % dim !== 0) {
      throw new Error(`'table' passed to 'embeddingMean' must be a 2-D tensor or ` +
        `{ values: Float32Array, dim } with values.length a multiple of dim`);
    }
  }
  const rows = values.length / dim;
  return (ids) => {
    const v = new Float32Array(dim);
    let count = 0;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= rows) continue;
      for (let d = 0; d < dim; d++) v[d] += values[id * dim + d];
      count++;
    }
    if (count > 0) for (let d = 0; d < dim; d++) v[d] /= count;
    return v;
  };
}

/**
 * `1 − cos(a, b)`, from 0 (same direction) to 2 (opposite); 0 when both are zero vectors and 1
 * when only one is.
 *
 * @example
 * ```ts
 * cosineDistance(new Float32Array([1, 0]), new Float32Array([0, 1])); // 1
 * ```
 */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new Error(`'cosineDistance' needs vectors of equal length, got ${a.length} and ${b.length}`);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 && nb === 0) return 0;
  if (na === 0 || nb === 0) return 1;
  return 1 - dot / Math.sqrt(na * nb);
}
