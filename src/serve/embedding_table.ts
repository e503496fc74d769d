/**
 * `generatorEmbeddingTable`: the item embeddings an ids generator looks up, published so a
 * device can send embeddings instead of raw item ids.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { findParameterGenerator } from './find_generator';

/**
 * A copy of the generator's item embedding table `[vocabSize, embeddingDim]` (row 0 is padding).
 * A device holding it can send `{ "embeddings": [...] }` requests (its items' rows, oldest
 * first) and the service never receives item ids in the clear. Anyone holding the table can
 * match rows back to ids, so this hides ids from observers of the traffic, not from whoever
 * publishes the table.
 *
 * @example
 * ```ts
 * const table = generatorEmbeddingTable(splitDuet(duetModel).generator);
 * const rows = tf.gather(table, tf.tensor1d([5, 17, 42], 'int32')).arraySync(); // [3, dim]
 * await fetch(url, { method: 'POST', body: JSON.stringify({ embeddings: rows }) });
 * ```
 */
export function generatorEmbeddingTable(generator: tfl.LayersModel): tf.Tensor2D {
  const layer = findParameterGenerator(generator, 'generatorEmbeddingTable');
  if (layer.options.input !== 'ids' || layer.weights.length === 0) {
    throw new Error(`'generatorEmbeddingTable' needs a generator reading item ids; this one ` +
      `reads '${layer.options.input}'${layer.weights.length === 0 ? ' and is not built' : ''}`);
  }
  return tf.clone(layer.weights[0].read()) as tf.Tensor2D;
}
