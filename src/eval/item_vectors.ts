/**
 * The item-tower outputs of a whole catalogue, cached per model: for a two-tower model (see
 * `splitTwoTower`) they do not depend on the user, so `recommend` computes them once and scores
 * every later query with one matMul. The cache follows the weights: it is keyed on the identity
 * of the item tower's weight buffers, which every update (an optimizer step, `setWeights`,
 * `loadWeights`) replaces, so a model trained further never scores with stale vectors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { itemTowerOutputs, type TwoTowerParts } from '../wrap/two_tower';
import { sameWeightVersion, weightVersion } from '../wrap/weight_version';

/** One model's cached catalogue. */
interface ItemTable {
  numItems: number;
  /** The data ids of the item tower's weights when the table was built. */
  weightIds: readonly object[];
  /**
   * `[dim (+ 1), numItems]`: column i - 1 is item i's vector (and its bias, in the last row).
   * Transposed so that scoring is `[1, dim (+ 1)] · table`, with the table as matMul's fixed
   * operand (3× faster than `table · u` on wasm, where that operand's packing is cached).
   */
  table: tf.Tensor2D | null;
}

const tables = new WeakMap<tfl.LayersModel, ItemTable>();
/** Every table alive, so that `releaseItemVectors()` can free all of them. */
const live = new Set<ItemTable>();

function free(entry: ItemTable): void {
  entry.table?.dispose();
  entry.table = null;
  live.delete(entry);
}

/**
 * The cached `[dim (+ 1), numItems]` table of items 1..numItems for `model` (see the file
 * comment), built in batches of `batchSize` items when missing or stale. Owned by the cache: do
 * not dispose it.
 *
 * @example
 * ```ts
 * const table = itemTable(model, splitTwoTower(model)!, 5000, 4096); // [33, 5000] with a bias row
 * const logits = tf.matMul(tf.concat([userVector, tf.ones([1, 1])], 1), table); // [1, 5000]
 * ```
 */
export function itemTable(model: tfl.LayersModel, parts: TwoTowerParts, numItems: number,
    batchSize: number): tf.Tensor2D {
  const ids = weightVersion(parts.item);
  const cached = tables.get(model);
  if (cached?.table != null && cached.numItems === numItems && sameWeightVersion(cached.weightIds, ids)) {
    return cached.table;
  }
  if (cached !== undefined) free(cached);
  if (ids === null) {
    throw new Error(`'recommend': model '${model.name}' has disposed weights`);
  }
  const inputDtype = parts.item.inputs[0].dtype === 'int32' ? 'int32' : 'float32';
  const columns: tf.Tensor2D[] = [];
  let table: tf.Tensor2D;
  try {
    for (let start = 1; start <= numItems; start += batchSize) {
      const n = Math.min(batchSize, numItems - start + 1);
      columns.push(tf.tidy(() => {
        const batch = tf.add(tf.range(0, n, 1, inputDtype), tf.scalar(start, inputDtype));
        const { vectors, bias } = itemTowerOutputs(parts, tf.reshape(batch, [n, 1]));
        const t = tf.transpose(vectors);
        return (bias === null ? t : tf.concat([t, tf.reshape(bias, [1, n])], 0)) as tf.Tensor2D;
      }));
    }
    table = columns.length === 1 ? columns[0] : tf.concat(columns, 1);
  } catch (e) {
    tf.dispose(columns);
    throw e;
  }
  if (columns.length > 1) tf.dispose(columns);
  const entry: ItemTable = { numItems, weightIds: ids, table };
  tables.set(model, entry);
  live.add(entry);
  return table;
}

/**
 * Frees the item vectors `recommend` cached for a two-tower model (or for every model when none
 * is given). The cache holds `numItems × (dim + 1)` floats per model (132 MB for 1M items of
 * dim 32, plus wasm's packed copy of the same size) and is rebuilt on the next `recommend`.
 * Call it when done with a model (`model.dispose()` does not know about the cache); weight
 * updates need no call, they invalidate the cache by themselves.
 *
 * @param model The model whose vectors to free. Default: every model's.
 * @example
 * ```ts
 * const top = await recommend(model, history, { numItems: 1_000_000 }); // builds the cache
 * releaseItemVectors(model);
 * model.dispose();
 * ```
 */
export function releaseItemVectors(model?: tfl.LayersModel): void {
  if (model === undefined) {
    for (const entry of [...live]) free(entry);
    return;
  }
  const entry = tables.get(model);
  if (entry !== undefined) {
    free(entry);
    tables.delete(model);
  }
}
