/**
 * Graph pieces every reference model is made of: the `target` and `click` inputs, the shared item
 * embedding, the click mask, stacks of named Dense layers and the dot-product score.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { sequenceMaskLayer } from '../../layers/sequence_mask';
import { type DenseActivation, type TowerConfig, USER_ADAPTER } from './options';
import type { SeedSequence } from './seed';

type Sym = tfl.SymbolicTensor;

/**
 * Name of the first model input, the target item id `[batch, 1]`.
 *
 * @example
 * ```ts
 * model.inputs[0].sourceLayer.name === TARGET_INPUT; // true for every reference model
 * ```
 */
export const TARGET_INPUT = 'target';

/**
 * Name of the second model input, the click sequence `[batch, clickLength]` (0 = padding).
 *
 * @example
 * ```ts
 * model.inputs[1].sourceLayer.name === CLICK_INPUT; // true for every reference model
 * ```
 */
export const CLICK_INPUT = 'click';

/** The layers and tensors every model starts from. */
export interface ModelStem {
  /** `target [batch, 1]`, one item id per row. */
  target: Sym;
  /** `click [batch, clickLength]`, item ids, 0 = padding. */
  click: Sym;
  /** The click padding mask `[batch, clickLength]` (1 = item). */
  mask: Sym;
  /** Target embedding `[batch, D]`. */
  targetEmbedding: Sym;
  /** Click embeddings `[batch, clickLength, D]`. */
  clickEmbeddings: Sym;
}

/**
 * Creates the inputs `target` and `click`, the item embedding `itemEmbedding` (one table shared by
 * history and target, `numItems + 1` rows, row 0 = padding) and the click mask `clickMask`.
 */
export function modelStem(numItems: number, clickLength: number, dim: number,
    seeds: SeedSequence): ModelStem {
  const target = tfl.input({ shape: [1], name: TARGET_INPUT });
  const click = tfl.input({ shape: [clickLength], name: CLICK_INPUT });
  const embedding = tfl.layers.embedding({
    inputDim: numItems + 1,
    outputDim: dim,
    embeddingsInitializer: seeds.uniform(0.05),
    name: 'itemEmbedding',
  });
  const targetEmbedding = tfl.layers.flatten({ name: 'targetEmbedding' })
    .apply(embedding.apply(target)) as Sym;
  const clickEmbeddings = embedding.apply(click) as Sym;
  const mask = sequenceMaskLayer({ name: 'clickMask' }).apply(click) as Sym;
  return { target, click, mask, targetEmbedding, clickEmbeddings };
}

/** A Dense layer with a seeded Glorot kernel and a zero bias. */
export function dense(units: number, activation: DenseActivation, name: string,
    seeds: SeedSequence): tfl.layers.Layer {
  return tfl.layers.dense({
    units, activation, name, kernelInitializer: seeds.glorot(), biasInitializer: 'zeros',
  });
}

/**
 * `x` through Dense layers `${prefix}1..N` of the given widths: `activation` on every layer, or on
 * every layer but the last when `linearLast`.
 */
export function denseStack(x: Sym, prefix: string, units: number[], activation: DenseActivation,
    linearLast: boolean, seeds: SeedSequence): Sym {
  let h = x;
  units.forEach((u, i) => {
    const last = i === units.length - 1;
    h = dense(u, last && linearLast ? 'linear' : activation, `${prefix}${i + 1}`, seeds)
      .apply(h) as Sym;
  });
  return h;
}

/** Names of a tower's layers: `${prefix}1..count`. */
export function towerNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
}

/**
 * The layers a two-tower model's DUET variant generates by default: `userAdapter` when it has
 * one, else the user tower `userTower1..N` (none with `towerLayers: 0`).
 */
export function defaultUserDynamic(towers: TowerConfig): string[] {
  return towers.userAdapter ? [USER_ADAPTER] : towerNames('userTower', towers.towerLayers);
}

/**
 * The two-tower head: `userTower1..N` on the user state (then `userAdapter`, with
 * `towers.userAdapter`), `targetTower1..N` on the target embedding (each D wide, the tower
 * activation but the last, linear), scored by their dot product
 * (`score`, `[batch, 1]`, a logit). With `itemBias` (the `target` ids given) the dot product is
 * `match` and `score` adds the item bias to it (see {@link addItemBias}).
 */
export function twoTowerScore(userState: Sym, targetEmbedding: Sym, dim: number, towers: TowerConfig,
    seeds: SeedSequence, itemBias?: { target: Sym; numItems: number }): Sym {
  const widths = new Array<number>(towers.towerLayers).fill(dim);
  const target = denseStack(targetEmbedding, 'targetTower', widths, towers.towerActivation, true, seeds);
  let user = denseStack(userState, 'userTower', widths, towers.towerActivation, true, seeds);
  if (towers.userAdapter) {
    // Starts as the identity, so a base model gains it without changing a single score.
    user = tfl.layers.dense({
      units: dim, activation: 'linear', name: USER_ADAPTER, kernelInitializer: 'identity', biasInitializer: 'zeros',
    }).apply(user) as Sym;
  }
  const dot = tfl.layers.dot({ axes: 1, name: itemBias === undefined ? 'score' : 'match' })
    .apply([user, target]) as Sym;
  return itemBias === undefined ? dot : addItemBias(dot, itemBias.target, itemBias.numItems);
}

/**
 * `logit + b[target]`: a learned per-item bias `itemBias` (an `[numItems + 1, 1]` table, zeros at
 * start) added to the model's logit by `score`. It holds what every user shares about an item
 * (mostly its popularity), so the rest of the model spends itself on the per-user part.
 */
export function addItemBias(logit: Sym, target: Sym, numItems: number): Sym {
  const table = tfl.layers.embedding({
    inputDim: numItems + 1, outputDim: 1, embeddingsInitializer: 'zeros', name: 'itemBias',
  });
  const bias = tfl.layers.flatten({ name: 'targetBias' }).apply(table.apply(target)) as Sym;
  return tfl.layers.add({ name: 'score' }).apply([logit, bias]) as Sym;
}
