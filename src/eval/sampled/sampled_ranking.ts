/**
 * HR@K and NDCG@K on sampled candidates of a seq-loo-v1 split: each user's held-out target
 * ranked among its {@link SampledCandidates} (99 uniform negatives by default), for models that
 * score one (history, item) pair at a time such as DIN, and for the popularity floor.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { type SeqLooSplit, seqLooHistory, seqLooTarget } from '../../data/protocols/seq_loo';
import { ParameterGenerator } from '../../layers/parameter_generator';
import { splitDuet } from '../../wrap/split_duet';
import { splitTwoTower, type TwoTowerParts, userTowerOutputs } from '../../wrap/two_tower';
import { itemTable, releaseItemVectors } from '../item_vectors';
import { trainingCounts } from '../full_ranking/popularity';
import { FullRankingMetrics, type FullRankingReport } from '../full_ranking/ranks';
import { checkLogitModel, forwardLogits } from '../model_inputs';
import { checkPositiveInt } from '../score';
import type { SampledCandidates } from './sampled_negatives';

/**
 * The rank r (from 0) of a target among its sampled negatives: how many of the `count` scores
 * after `scores[offset]` (the target's) are at least as high. Ties count against the model, a
 * NaN negative counts as above the target, and a NaN target ranks last (r = count).
 *
 * @example
 * ```ts
 * sampledRank(Float32Array.of(0.5, 0.9, 0.5, 0.1), 0, 3); // 2: one above, one tie
 * ```
 */
export function sampledRank(scores: ArrayLike<number>, offset: number, count: number): number {
  const threshold = scores[offset];
  if (Number.isNaN(threshold)) return count;
  let above = 0;
  for (let j = 1; j <= count; j++) {
    if (!(scores[offset + j] < threshold)) above++;
  }
  return above;
}

/**
 * Options of {@link evaluateSampledRanking}.
 *
 * @example
 * ```ts
 * const options: SampledRankingOptions = { batchSize: 16, users: Int32Array.of(1, 2, 3) };
 * ```
 */
export interface SampledRankingOptions {
  /** Users per forward pass (each brings `count + 1` rows); the metrics do not depend on it. Default 16. */
  batchSize?: number;
  /** Rank only these users (ids 1..numUsers, e.g. a seeded subset for validation). Default: all. */
  users?: ArrayLike<number>;
}

/** The positions of the model's `target` and `click` inputs, and the click width it declares. */
function inputLayout(model: tfl.LayersModel, fn: string): { target: number; click: number; width: number } {
  checkLogitModel(model, fn);
  const names = model.inputs.map((t) => t.sourceLayer?.name ?? '');
  const target = names.indexOf('target');
  const click = names.indexOf('click');
  if (model.inputs.length !== 2 || target < 0 || click < 0) {
    throw new Error(`'model' passed to '${fn}' must read exactly the inputs 'target' and 'click'; ` +
      `model '${model.name}' reads ${names.map((n) => `'${n}'`).join(', ')}`);
  }
  const width = model.inputs[click].shape[1];
  if (model.inputs[click].shape.length !== 2 || width === null || width === undefined) {
    throw new Error(`'model' passed to '${fn}' must declare the length of its 'click' input [batch, length]`);
  }
  return { target, click, width };
}

/**
 * A two-tower model's logits for the rows of `xs` (each user's `rowsPerUser` rows share one
 * history): one user vector per user, dotted with the candidates' item vectors (the item table
 * `evaluateFullRanking` uses), plus the item bias when the model has one.
 */
function twoTowerLogits(model: tfl.LayersModel, parts: TwoTowerParts, numItems: number, xs: tf.Tensor[],
    layout: { target: number; click: number }, users: number, rowsPerUser: number): tf.Tensor1D {
  const table = itemTable(model, parts, numItems, 4096);
  return tf.tidy(() => {
    const first = tf.range(0, users * rowsPerUser, rowsPerUser, 'int32');
    let vectors: tf.Tensor2D = userTowerOutputs(parts, [tf.gather(xs[layout.click], first)]);
    if (table.shape[0] === parts.dim + 1) vectors = tf.concat([vectors, tf.ones([users, 1])], 1);
    // Item j's column is j - 1.
    const ids = tf.sub(tf.cast(tf.reshape(xs[layout.target], [-1]), 'int32'), tf.scalar(1, 'int32'));
    const items = tf.reshape(tf.gather(table, ids, 1), [table.shape[0], users, rowsPerUser]);
    const perUser = tf.transpose(items, [1, 0, 2]); // [users, D', rows]
    const scores = tf.matMul(tf.reshape(vectors, [users, 1, table.shape[0]]), perUser); // [users, 1, rows]
    return tf.reshape(scores, [-1]) as tf.Tensor1D;
  });
}

/**
 * For a DUET model whose generator reads `click` alone: the logits with the parameters generated
 * once per user (every candidate row of a user shares its history, so they are the same) and
 * gathered to the user's rows, which equals running the whole model on every row. Null otherwise.
 */
function generateOncePerUser(model: tfl.LayersModel, layout: { target: number; click: number }):
    { logits(xs: tf.Tensor[], users: number, rowsPerUser: number): tf.Tensor1D } | null {
  if (!model.layers.some((l) => l instanceof ParameterGenerator)) return null;
  const { generator, device } = splitDuet(model);
  const generatorInputs = generator.inputs.map((t) => t.sourceLayer?.name);
  if (generatorInputs.length !== 1 || generatorInputs[0] !== 'click') return null;
  const deviceInputs = device.inputs.map((t) => t.sourceLayer?.name);
  return {
    logits: (xs, users, rowsPerUser) => tf.tidy(() => {
      // The users' click rows are every rowsPerUser-th row.
      const first = tf.range(0, users * rowsPerUser, rowsPerUser, 'int32');
      const params = generator.apply(tf.gather(xs[layout.click], first), { training: false }) as tf.Tensor;
      const perRow = tf.gather(params, tf.reshape(tf.tile(tf.reshape(tf.range(0, users, 1, 'int32'), [users, 1]), [1, rowsPerUser]), [-1]));
      const inputs = deviceInputs.map((name, i) => (i === deviceInputs.length - 1 ? perRow :
        name === 'target' ? xs[layout.target] : xs[layout.click]));
      const out = device.apply(inputs, { training: false }) as tf.Tensor;
      return tf.reshape(out, [-1]) as tf.Tensor1D;
    }),
  };
}

/** Checks that `candidates` were drawn for `split` and returns the users to rank. */
function usersToRank(split: SeqLooSplit, candidates: SampledCandidates, users: ArrayLike<number> | undefined,
    fn: string): Int32Array {
  if (candidates === null || typeof candidates !== 'object' || !(candidates.negatives instanceof Int32Array)) {
    throw new Error(`'candidates' passed to '${fn}' must come from 'sampleLooNegatives'`);
  }
  if (candidates.numUsers !== split.numUsers) {
    throw new Error(`'candidates' passed to '${fn}' were drawn for ${candidates.numUsers} users, ` +
      `the split has ${split.numUsers}`);
  }
  const list = users === undefined ? Int32Array.from({ length: split.numUsers }, (_, i) => i + 1) : Int32Array.from(users);
  for (const u of list) {
    if (!Number.isInteger(u) || u < 1 || u > split.numUsers) {
      throw new Error(`'users' passed to '${fn}' must hold user ids in 1..${split.numUsers}, got ${u}`);
    }
  }
  return list;
}

/**
 * Ranks each user's `candidates.part` target among its sampled negatives by the model's logit:
 * every (history, candidate) pair is scored in inference mode, the history being the last
 * `clickLength` items before the target (oldest first, right-padded with 0, as seq-loo-v1
 * training rows are; a batch of users is cut to the longest history it holds), and the target's
 * rank (ties against the model) gives HR@K and NDCG@K for K = 5, 10, 20.
 *
 * @param model A model with inputs `target [batch, 1]` and `click [batch, clickLength]` and one
 *   logit per row, such as DIN (base or DUET), or SASRec and GRU4Rec (two-tower: one user vector
 *   per user, dotted with the candidates' item vectors).
 * @param split The seq-loo-v1 split.
 * @param candidates From `sampleLooNegatives(split, part)`: the part and each user's negatives.
 * @param options See {@link SampledRankingOptions}.
 * @returns HR@K and NDCG@K averaged over the users ranked, and their number.
 * @throws When the model's inputs are not `target` and `click`, or the candidates do not fit the split.
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * const { model } = createModel({ model: 'din', numItems: split.numItems, clickLength: 50 });
 * const report = await evaluateSampledRanking(model, split, sampleLooNegatives(split, 'validation'));
 * console.log(report['ndcg@10']);
 * ```
 */
export async function evaluateSampledRanking(model: tfl.LayersModel, split: SeqLooSplit,
    candidates: SampledCandidates, options: SampledRankingOptions = {}): Promise<FullRankingReport> {
  const fn = 'evaluateSampledRanking';
  const layout = inputLayout(model, fn);
  const batchSize = checkPositiveInt(options.batchSize ?? 16, fn, 'batchSize');
  const { part, count } = candidates;
  const users = usersToRank(split, candidates, options.users, fn);
  const length = (u: number) => Math.min(layout.width, seqLooHistory(split, u, part).length);
  // Shortest histories first, so a batch is only as wide as its longest history.
  users.sort((a, b) => length(a) - length(b) || a - b);
  const rowsPerUser = count + 1;
  const dtype = (i: number) => (model.inputs[i].dtype === 'int32' ? 'int32' : 'float32');
  const metrics = new FullRankingMetrics();
  const towers = splitTwoTower(model);
  const generated = towers === null ? generateOncePerUser(model, layout) : null;
  try {
    for (let start = 0; start < users.length; start += batchSize) {
      const batch = users.subarray(start, Math.min(start + batchSize, users.length));
      const time = Math.max(1, ...Array.from(batch, length));
      const rows = batch.length * rowsPerUser;
      const target = new Int32Array(rows);
      const click = new Int32Array(rows * time);
      batch.forEach((u, i) => {
        const history = seqLooHistory(split, u, part);
        const window = history.subarray(Math.max(0, history.length - time));
        const r0 = i * rowsPerUser;
        target[r0] = seqLooTarget(split, u, part);
        target.set(candidates.negatives.subarray((u - 1) * count, u * count), r0 + 1);
        for (let r = r0; r < r0 + rowsPerUser; r++) click.set(window, r * time);
      });
      const xs: tf.Tensor[] = [];
      xs[layout.target] = tf.tensor2d(dtype(layout.target) === 'int32' ? target : Float32Array.from(target), [rows, 1], dtype(layout.target));
      xs[layout.click] = tf.tensor2d(dtype(layout.click) === 'int32' ? click : Float32Array.from(click), [rows, time], dtype(layout.click));
      let logits: tf.Tensor1D | undefined;
      try {
        logits = towers !== null ? twoTowerLogits(model, towers, split.numItems, xs, layout, batch.length, rowsPerUser) :
          generated !== null ? generated.logits(xs, batch.length, rowsPerUser) : forwardLogits(model, xs, false);
        const values = await logits.data();
        for (let i = 0; i < batch.length; i++) metrics.add(sampledRank(values, i * rowsPerUser, count));
      } finally {
        tf.dispose(xs);
        logits?.dispose();
      }
    }
  } finally {
    if (towers !== null) releaseItemVectors(model);
  }
  return metrics.report();
}

/**
 * The popularity floor on sampled candidates: each user's target ranked among its negatives by
 * the items' training counts (see `trainingCounts`), ties against it.
 *
 * @param split The seq-loo-v1 split.
 * @param candidates From `sampleLooNegatives(split, part)`.
 * @returns HR@K and NDCG@K for K = 5, 10, 20 over all users.
 * @example
 * ```ts
 * popularitySampled(split, sampleLooNegatives(split, 'test'))['ndcg@10'];
 * ```
 */
export function popularitySampled(split: SeqLooSplit, candidates: SampledCandidates): FullRankingReport {
  const users = usersToRank(split, candidates, undefined, 'popularitySampled');
  const counts = trainingCounts(split);
  const { count, part } = candidates;
  const scores = new Float32Array(count + 1);
  const metrics = new FullRankingMetrics();
  for (const u of users) {
    scores[0] = counts[seqLooTarget(split, u, part) - 1];
    for (let k = 0; k < count; k++) scores[k + 1] = counts[candidates.negatives[(u - 1) * count + k] - 1];
    metrics.add(sampledRank(scores, 0, count));
  }
  return metrics.report();
}
