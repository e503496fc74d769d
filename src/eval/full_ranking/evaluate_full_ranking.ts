/**
 * `evaluateFullRanking`: protocol seq-loo-v1's evaluation. Every item of the catalogue is scored
 * for every user by a two-tower model (one `[users, dim] · [dim, items]` product per batch of
 * users), the user's history is removed and the held-out target's rank gives HR@K and NDCG@K.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { type SeqLooPart, type SeqLooSplit, seqLooHistory, seqLooTarget } from '../../data/protocols/seq_loo';
import { splitTwoTower, twoTowerReason, type TwoTowerParts, userTowerOutputs } from '../../wrap/two_tower';
import { itemTable, releaseItemVectors } from '../item_vectors';
import { checkPositiveInt } from '../score';
import { FullRankingMetrics, type FullRankingReport, targetRank } from './ranks';

/**
 * Options of {@link evaluateFullRanking}.
 *
 * @example
 * ```ts
 * const options: FullRankingOptions = { part: 'validation', batchSize: 256 };
 * ```
 */
export interface FullRankingOptions {
  /** Which target to rank: `'validation'` (model selection) or `'test'` (the final report, once). Required. */
  part: SeqLooPart;
  /** Users per forward pass and score table (the metrics do not depend on it). Default 512. */
  batchSize?: number;
  /** Rank only users 1..maxUsers (e.g. a quick look); 0 ranks all. Default 0. */
  maxUsers?: number;
}

/** The model's click input: its name must be `click`, and the user tower must read nothing else. */
function clickWidth(parts: TwoTowerParts, model: tfl.LayersModel, fn: string): number {
  const inputs = parts.user.inputs;
  if (inputs.length !== 1 || inputs[0].sourceLayer.name !== 'click' || inputs[0].shape.length !== 2) {
    throw new Error(`'model' passed to '${fn}' must compute its user vector from one 'click' input ` +
      `[batch, length]; model '${model.name}' reads ${inputs.map((t) => `'${t.sourceLayer.name}'`).join(', ')}`);
  }
  const width = inputs[0].shape[1];
  if (width === null) {
    throw new Error(`'model' passed to '${fn}' must declare the length of its 'click' input`);
  }
  return width;
}

/**
 * The users in order of their history length (shortest first), so that a batch of users can be
 * cut to the longest history it holds: short histories then cost short sequences.
 */
function usersByLength(split: SeqLooSplit, part: SeqLooPart, count: number, width: number): Int32Array {
  const users = Int32Array.from({ length: count }, (_, i) => i + 1);
  const length = (u: number) => Math.min(width, seqLooHistory(split, u, part).length);
  return users.sort((a, b) => length(a) - length(b) || a - b);
}

/**
 * Ranks each user's `part` target among every item 1..numItems (protocol seq-loo-v1, rules 4–5):
 * the user vector is computed from the last `clickLength` items of their history (right-padded,
 * positions counted from the oldest item, as the model was trained), every item is scored with
 * one matMul per batch, the items of the user's whole history are removed from the ranking (the
 * target never is) and ties count against the model. Validation ranks s_{n-1} after s_1..s_{n-2};
 * test ranks s_n after s_1..s_{n-1}: select epochs on validation, report test once.
 *
 * @param model A two-tower model (see `splitTwoTower`) whose user side reads one `click` input,
 *   such as the reference SASRec and GRU4Rec, base or DUET.
 * @param split The seq-loo-v1 split.
 * @param options See {@link FullRankingOptions}.
 * @returns HR@K and NDCG@K for K = 5, 10, 20 and the number of users.
 * @throws When the model is not two-tower (DIN: rank sampled candidates instead) or knows fewer
 *   items than the split.
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * const { model } = createModel({ model: 'sasrec', numItems: split.numItems, clickLength: 50 });
 * const report = await evaluateFullRanking(model, split, { part: 'validation' });
 * console.log(report['ndcg@10']);
 * ```
 */
export async function evaluateFullRanking(model: tfl.LayersModel, split: SeqLooSplit,
    options: FullRankingOptions): Promise<FullRankingReport> {
  const fn = 'evaluateFullRanking';
  if (options === null || typeof options !== 'object') {
    throw new Error(`'options' passed to '${fn}' must be { part: 'validation' | 'test', … }`);
  }
  const { part } = options;
  if (part !== 'validation' && part !== 'test') {
    throw new Error(`'part' passed to '${fn}' must be 'validation' or 'test', got ${String(part)}`);
  }
  const batchSize = checkPositiveInt(options.batchSize ?? 512, fn, 'batchSize');
  const maxUsers = options.maxUsers ?? 0;
  if (!Number.isInteger(maxUsers) || maxUsers < 0) {
    throw new Error(`'maxUsers' passed to '${fn}' must be a non-negative integer, got ${String(maxUsers)}`);
  }
  const parts = splitTwoTower(model);
  if (parts === null) {
    throw new Error(`'model' passed to '${fn}' must be two-tower to score the whole catalogue: ` +
      `${twoTowerReason(model) ?? ''} (rank sampled candidates for such models)`);
  }
  const width = clickWidth(parts, model, fn);
  const numItems = split.numItems;
  const count = maxUsers === 0 ? split.numUsers : Math.min(maxUsers, split.numUsers);
  const order = usersByLength(split, part, count, width);
  const metrics = new FullRankingMetrics();
  const seen = new Int32Array(numItems + 1);
  try {
    const table = itemTable(model, parts, numItems, 4096);
    const withBias = table.shape[0] === parts.dim + 1;
    const dtype = parts.user.inputs[0].dtype === 'int32' ? 'int32' : 'float32';
    for (let start = 0; start < order.length; start += batchSize) {
      const users = order.subarray(start, Math.min(start + batchSize, order.length));
      const time = Math.max(1, ...Array.from(users, (u) => Math.min(width, seqLooHistory(split, u, part).length)));
      const click = new Int32Array(users.length * time);
      users.forEach((u, i) => {
        const history = seqLooHistory(split, u, part);
        click.set(history.subarray(Math.max(0, history.length - time)), i * time);
      });
      const scores = tf.tidy(() => {
        const ids = tf.tensor2d(dtype === 'int32' ? click : Float32Array.from(click), [users.length, time], dtype);
        let vectors: tf.Tensor2D = userTowerOutputs(parts, [ids]);
        if (withBias) vectors = tf.concat([vectors, tf.ones([users.length, 1])], 1);
        return tf.matMul(vectors, table);
      });
      const values = await scores.data();
      scores.dispose();
      users.forEach((u, i) => {
        metrics.add(targetRank(values, i * numItems, numItems, seqLooTarget(split, u, part),
          seqLooHistory(split, u, part), seen, u));
      });
    }
  } finally {
    releaseItemVectors(model);
  }
  return metrics.report();
}
