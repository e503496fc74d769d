/**
 * `evaluateModel`: score a dataset with a model and compute the ranking metrics over its users.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import type { DuetDataset } from '../data/types';
import { evaluateRanking, type RankingReport } from './evaluate_ranking';
import { scoreDataset } from './score';

/** Options of {@link evaluateModel}. */
export interface EvaluateModelOptions {
  /** Rows per forward pass (scores do not depend on it). Default 1024. */
  batchSize?: number;
  /** Cut-offs for `ndcg@K` and `hr@K`. Default `[5, 10, 20]`. */
  ks?: readonly number[];
}

/**
 * The metrics of {@link evaluateModel}: those of `evaluateRanking` plus the scoring speed.
 *
 * @example
 * ```ts
 * const report: ModelReport = await evaluateModel(model, test);
 * report.inferSamplesPerSecond;
 * ```
 */
export interface ModelReport extends RankingReport {
  /** Rows scored per second (forward passes only, metrics excluded). */
  inferSamplesPerSecond: number;
}

/**
 * Rows per second; `Infinity` if the clock did not move. Internal.
 *
 * @example
 * ```ts
 * samplesPerSecond(5000, 250); // 20000
 * ```
 */
export function samplesPerSecond(rows: number, ms: number): number {
  return ms > 0 ? (rows * 1000) / ms : rows > 0 ? Infinity : 0;
}

/**
 * Scores every row of `ds` (see {@link scoreDataset}) and evaluates the logits with
 * `evaluateRanking` against `ds.label`, grouping rows by `ds.user`.
 *
 * @param model A model with inputs named after dataset columns and one logit output per row.
 * @param ds The rows to evaluate (for a final report, the test set; for model selection, a validation set).
 * @param options See {@link EvaluateModelOptions}.
 * @returns `{ auc, uauc, logloss, 'ndcg@K', 'hr@K', users, rows, inferSamplesPerSecond }`.
 * @throws As {@link scoreDataset} and `evaluateRanking` (e.g. an empty dataset).
 * @example
 * ```ts
 * const report = await evaluateModel(model, test);
 * console.log(JSON.stringify(report)); // {"auc":0.91,"uauc":0.88,...,"inferSamplesPerSecond":52000}
 * ```
 */
export async function evaluateModel(model: tfl.LayersModel, ds: DuetDataset,
    options: EvaluateModelOptions = {}): Promise<ModelReport> {
  const started = performance.now();
  const scores = await scoreDataset(model, ds, { batchSize: options.batchSize });
  const ms = performance.now() - started;
  const report = evaluateRanking(scores, ds.label, ds.user,
    options.ks === undefined ? {} : { ks: options.ks }) as ModelReport;
  report.inferSamplesPerSecond = samplesPerSecond(ds.size, ms);
  return report;
}
