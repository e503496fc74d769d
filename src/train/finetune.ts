/**
 * The per-user fine-tuning baseline DUET is compared with: every test user gets their own copy
 * of the trained model, fine-tuned on that user's training rows, then scores that user's test rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../data/check_dataset';
import { createRng } from '../data/rng';
import { isTestSet } from '../data/test_marks';
import type { DuetDataset } from '../data/types';
import { evaluateRanking, type RankingReport } from '../eval/evaluate_ranking';
import { bindModelInputs, forwardLogits, rowsToTensors } from '../eval/model_inputs';
import { checkPositiveInt } from '../eval/score';
import { datasetBatches } from './batches';
import { Yielder } from './event_loop';
import { ProgressBar } from './progress';
import { checkKnownOptions, checkStepSettings } from './train';
import { Stepper } from './train_step';
import { ensureDuetKernels } from './ensure_kernels';

/**
 * The data of {@link finetune}: each test user is fine-tuned on their own rows of `train`.
 *
 * @example
 * ```ts
 * const { train, test } = synthetic({ users: 50, items: 200 });
 * const data: FinetuneData = { train, test };
 * ```
 */
export interface FinetuneData {
  /** Training rows; a test user's rows here are what their copy is fine-tuned on. */
  train: DuetDataset;
  /** Test rows, scored per user after that user's fine-tune. */
  test: DuetDataset;
}

/**
 * Options of {@link finetune}.
 *
 * @example
 * ```ts
 * const options: FinetuneOptions = { epochs: 1, learningRate: 1e-3, maxUsers: 500 };
 * ```
 */
export interface FinetuneOptions {
  /** Passes over each user's training rows. Default 1. */
  epochs?: number;
  /** Rows per step (a user's rows are usually one batch). Default 1024. */
  batchSize?: number;
  /** Adam learning rate (a fresh Adam per user). Default 1e-3. */
  learningRate?: number;
  /** Global-norm gradient clipping, as in `train`. Default: none. */
  clipNorm?: number;
  /** Seed of the shuffles and of the `maxUsers` subset. Default 0. */
  seed?: number;
  /** Fine-tune and evaluate only this many test users, a seeded random subset. Default: all. */
  maxUsers?: number;
  /** Cut-offs for `ndcg@K` and `hr@K`. Default `[5, 10, 20]`. */
  ks?: readonly number[];
  /** Draw a progress bar over users on stderr when it is a terminal. Default false. */
  progress?: boolean;
}

/** The metrics of {@link finetune}: those of `evaluateRanking` over the evaluated test rows, plus the cost. */
export interface FinetuneReport extends RankingReport {
  /** Mean milliseconds per evaluated user to reset the copy's weights and fine-tune it (scoring excluded). */
  adaptMsPerUser: number;
}

/**
 * What {@link finetune} returns.
 *
 * @example
 * ```ts
 * const { report, rows, scores }: FinetuneResult = await finetune(model, { train, test });
 * ```
 */
export interface FinetuneResult {
  /** Metrics over the evaluated test rows. */
  report: FinetuneReport;
  /** The evaluated test rows (all of the evaluated users' rows), ascending. */
  rows: Int32Array;
  /** The logit of each row in `rows`, from its user's fine-tuned copy. */
  scores: Float32Array;
}

const KNOWN_OPTIONS = new Set(['epochs', 'batchSize', 'learningRate', 'clipNorm', 'seed', 'maxUsers', 'ks', 'progress']);

/** Row indices per user, users in order of first appearance. */
function rowsByUser(ds: DuetDataset): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let r = 0; r < ds.size; r++) {
    const rows = out.get(ds.user[r]);
    if (rows === undefined) out.set(ds.user[r], [r]);
    else rows.push(r);
  }
  return out;
}

/** A copy of `model` with the same architecture and layer names (its weights are set later). */
async function copyArchitecture(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const topology = JSON.parse(JSON.stringify(model.toJSON(null, false)));
  return tfl.models.modelFromJSON({ modelTopology: topology });
}

/**
 * The fine-tuning baseline as the DUET authors run it. For each test user (in order of first
 * appearance in `test`): reset one copy of `model` (same architecture) to the base weights, train
 * it with a fresh Adam on that user's own rows of `train` (as `train` does: BCE on logits,
 * optional global-norm clipping, seeded shuffles), then score the user's test rows with it. One
 * copy is built once and reset per user, so users never see each other's updates and the base
 * `model` is never changed. A user with no training rows is scored by the base weights.
 *
 * @param model The trained base model (inputs named after dataset columns, one logit output).
 * @param data `{ train, test }`.
 * @param options See {@link FinetuneOptions}.
 * @returns The report (metrics plus `adaptMsPerUser`), the evaluated test rows and their scores.
 * @throws On bad options, a test set passed as `train`, or a model that does not fit the data.
 * @example
 * ```ts
 * await train(model, { train: trainSet }, { epochs: 3 });
 * const { report } = await finetune(model, { train: trainSet, test }, { maxUsers: 500 });
 * console.log(report.auc, report.adaptMsPerUser);
 * ```
 */
export async function finetune(model: tfl.LayersModel, data: FinetuneData, options: FinetuneOptions = {}):
    Promise<FinetuneResult> {
  const fn = 'finetune';
  checkKnownOptions(options, KNOWN_OPTIONS, fn);
  const settings = checkStepSettings(options, fn);
  if (data === null || typeof data !== 'object') throw new Error(`'data' passed to '${fn}' must be { train, test }`);
  checkDataset(data.train, fn, 'data.train');
  checkDataset(data.test, fn, 'data.test');
  if (isTestSet(data.train)) throw new Error(`'data.train' passed to '${fn}' is a test set`);
  if (data.test.size === 0) throw new Error(`'data.test' passed to '${fn}' has no rows`);
  ensureDuetKernels();
  bindModelInputs(model, data.train, fn);
  const inputs = bindModelInputs(model, data.test, fn);

  const testRows = rowsByUser(data.test);
  let users = [...testRows.keys()];
  if (options.maxUsers !== undefined) {
    const maxUsers = checkPositiveInt(options.maxUsers, fn, 'maxUsers');
    if (maxUsers < users.length) {
      // The subset depends on the set of users and the seed only, not on row order.
      const pool = Int32Array.from(users).sort();
      const chosen = new Set(createRng(settings.seed).shuffle(pool).subarray(0, maxUsers));
      users = users.filter((u) => chosen.has(u));
    }
  }
  const trainRows = rowsByUser(data.train);
  const rows = Int32Array.from(users.flatMap((u) => testRows.get(u) as number[])).sort();
  const position = new Map<number, number>();
  rows.forEach((r, i) => position.set(r, i));
  const scores = new Float32Array(rows.length);

  const copy = await copyArchitecture(model);
  const base = model.getWeights().map((w) => tf.clone(w));
  const bar = new ProgressBar(options.progress === true);
  const yielder = new Yielder();
  let adaptMs = 0;
  try {
    for (let u = 0; u < users.length; u++) {
      const user = users[u];
      const started = performance.now();
      copy.setWeights(base);
      const own = trainRows.get(user);
      if (own !== undefined && settings.epochs > 0) {
        const stepper = new Stepper(copy, settings, fn);
        try {
          for (let epoch = 0; epoch < settings.epochs; epoch++) {
            for (const batch of datasetBatches(copy, data.train, {
              rows: own, batchSize: settings.batchSize, seed: (settings.seed + Math.imul(user, 0x27d4eb2d)) | 0, epoch,
            })) {
              stepper.step(batch).dispose();
            }
          }
          // Wait for the last update so the time covers the work on asynchronous backends too.
          await copy.trainableWeights[0].read().data();
        } finally {
          stepper.dispose();
        }
      }
      adaptMs += performance.now() - started;

      const mine = testRows.get(user) as number[];
      const xs = rowsToTensors(data.test, inputs, mine, 0, mine.length);
      try {
        const logits = forwardLogits(copy, xs, false);
        const values = await logits.data();
        logits.dispose();
        mine.forEach((r, i) => { scores[position.get(r) as number] = values[i]; });
      } finally {
        tf.dispose(xs);
      }
      bar.update('fine-tune', u + 1, users.length, () => `${(adaptMs / (u + 1)).toFixed(1)} ms/user`, u + 1 === users.length);
      await yielder.maybeYield();
    }
    bar.finish();
  } finally {
    tf.dispose(base);
    // copy.dispose() would keep the weights of layers called more than once (tfjs counts calls).
    for (const w of new Set(copy.weights)) w.dispose();
  }

  const report = evaluateRanking(scores, Array.from(rows, (r) => data.test.label[r]),
    Array.from(rows, (r) => data.test.user[r]), options.ks === undefined ? {} : { ks: options.ks }) as FinetuneReport;
  report.adaptMsPerUser = adaptMs / users.length;
  return { report, rows, scores };
}
