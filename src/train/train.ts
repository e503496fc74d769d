/**
 * `train`: fits a model on a {@link DuetDataset} with Adam on BCE-with-logits, selecting the best
 * epoch on validation data held out of the training data (never on test data).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkDataset } from '../data/check_dataset';
import { splitValidation } from '../data/split_validation';
import { isTestSet } from '../data/test_marks';
import type { DuetDataset } from '../data/types';
import { evaluateRanking, type RankingReport } from '../eval/evaluate_ranking';
import { samplesPerSecond } from '../eval/evaluate_model';
import { bindModelInputs } from '../eval/model_inputs';
import { checkPositiveInt, scoreDataset } from '../eval/score';
import type { EpochRunner } from './epoch_runner';
import { createObjective } from './objective';
import './objectives/index';
import { startRunner } from './start_runner';
import { ProgressBar } from './progress';
import { Stepper, type StepperOptions } from './train_step';
import { ensureDuetKernels } from './ensure_kernels';
import { dataFingerprint, modelFingerprint } from './checkpoint/fingerprint';
import { openRunCheckpoint, restoreRun, saveRun } from './checkpoint/run_checkpoint';

/**
 * What {@link train} trains on (`{ train, validation? }`, e.g. `{ train: split.train }`). There is deliberately no test set here: model selection only
 * ever sees `validation` (or a part of `train` held out by `validationFraction`).
 */
export interface TrainData {
  /** The training rows. A test set (one built or read by this library) is refused. */
  train: DuetDataset;
  /** Rows to select the best epoch on. Default: none, unless `validationFraction` is set. */
  validation?: DuetDataset;
}

/**
 * What {@link train} reports after each epoch.
 *
 * @example
 * ```ts
 * const onEpoch = (log: EpochLog) => console.error(log.epoch, log.loss, log.validation?.auc);
 * ```
 */
export interface EpochLog {
  /** The epoch, counted from 1. */
  epoch: number;
  /** Mean training loss (BCE on logits) over the epoch's rows, measured before each step. */
  loss: number;
  /** Metrics on the validation rows after the epoch; absent without validation data. */
  validation?: RankingReport;
  /** Training rows per second over the epoch's optimisation steps (validation excluded). */
  samplesPerSecond: number;
  /** Wall time of the epoch in seconds, validation and `onEpoch` excluded. */
  seconds: number;
  /** Threads the epoch's steps ran on. */
  threads: number;
}

/**
 * Options of {@link train}.
 *
 * @example
 * ```ts
 * const options: TrainOptions = { epochs: 10, batchSize: 512, clipNorm: 5, validationFraction: 0.1 };
 * ```
 */
export interface TrainOptions {
  /** Passes over the training rows. Default 1. */
  epochs?: number;
  /** Rows per optimisation step. Default 1024. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /**
   * Adam learning rate of the weights of every `ParameterGenerator` in the model (a second Adam
   * with its own moments); the other weights keep `learningRate`. Default: `learningRate`.
   */
  generatorLearningRate?: number;
  /** Clip each step's gradients to this global norm √(Σ‖g‖²) (all weights scaled together). Default: no clipping. */
  clipNorm?: number;
  /** Seed of the per-epoch shuffles and of the `validationFraction` split. Default 0. */
  seed?: number;
  /**
   * Without `data.validation`: hold out this fraction of the training users, with all their rows
   * (see `splitValidation`), and select epochs on them. Default: no validation.
   */
  validationFraction?: number;
  /** Validation metric for selecting the best epoch: `'auc'` (higher is better) or `'logloss'` (lower). Default `'auc'`. */
  selectBy?: 'auc' | 'logloss';
  /** With validation data, end with the weights of the best epoch rather than the last. Default true. */
  restoreBest?: boolean;
  /** Called after each epoch (awaited). Default: none. */
  onEpoch?: (log: EpochLog) => void | Promise<void>;
  /** Draw a progress bar on stderr, only when stderr is a terminal (Node). Never writes to stdout. Default false. */
  progress?: boolean;
  /** Stops training after the current step; `train` then resolves with `aborted: true`. Default: none. */
  signal?: AbortSignal;
  /**
   * Threads to train on (Node only: this one plus `threads − 1` worker threads, each with its
   * own backend instance and a replica of the model). Each step splits the batch into `threads`
   * shards, sums their gradients through shared memory and applies the same update everywhere:
   * the result equals one-thread training at the same `batchSize` up to float rounding, and is
   * deterministic for a seed and a thread count. Every custom layer class of the model must be
   * registered when duet-tf is imported (duet-tf's own are). Default: every core, when each thread
   * gets at least 128 rows per step and the run has at least 8 steps; otherwise 1 (and always 1
   * where `worker_threads` is absent, e.g. in browsers).
   */
  threads?: number;
  /**
   * A folder (Node only) to write a checkpoint to after each completed epoch, crash-safe: the
   * weights, both Adams' moments and step, the epoch (the batch order and every sampled draw are
   * keyed by seed and epoch, so that is the whole random state), the best epoch's weights and
   * metric, and the history. A folder already holding a checkpoint is refused unless `resume`.
   * Default: none.
   */
  checkpointDir?: string;
  /**
   * Continue from the checkpoint in `checkpointDir`: the result (weights, history, best epoch)
   * is exactly that of a run never interrupted, for models without unseeded randomness (e.g.
   * unseeded dropout). Refused, naming them, when options the run depends on differ (batch
   * size, rates, clipping, seed, validation, data, architecture); `epochs` may grow, and
   * `threads` may differ (the result is then equal up to float rounding; by default the
   * checkpoint's thread count is kept). Default false.
   */
  resume?: boolean;
}

/**
 * What {@link train} returns.
 *
 * @example
 * ```ts
 * const { history, bestEpoch } = await train(model, { train: trainSet }, { epochs: 3 });
 * ```
 */
export interface TrainResult {
  /** One log per completed epoch. */
  history: EpochLog[];
  /**
   * The epoch (from 1) selected on validation data, or the last completed epoch without it; 0 when
   * no epoch completed. With validation and `restoreBest`, the model holds this epoch's weights.
   */
  bestEpoch: number;
  /** Training rows per second over all optimisation steps. */
  trainSamplesPerSecond: number;
  /** True when `signal` stopped training early. Without a restored best epoch, the model then holds the weights of the last step taken. */
  aborted: boolean;
  /** Threads the steps ran on (see {@link TrainOptions.threads}). */
  threads: number;
}

const KNOWN_OPTIONS = new Set(['epochs', 'batchSize', 'learningRate', 'generatorLearningRate',
  'clipNorm', 'seed', 'validationFraction', 'selectBy', 'restoreBest', 'onEpoch', 'progress', 'signal', 'threads',
  'checkpointDir', 'resume']);

/** Validated settings shared by `train` and the fine-tune baseline (`{ epochs, batchSize, … }`). Internal. */
export interface StepSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  clipNorm: number | undefined;
  seed: number;
}

/** `value` when it is undefined or a positive finite number; otherwise throws naming `name`. */
function checkPositiveNumber(value: unknown, fn: string, name: string): number | undefined {
  if (value !== undefined && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new Error(`'${name}' passed to '${fn}' must be a positive number, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks the optimisation options common to `train` and `finetune`, filling in defaults. Internal.
 *
 * @example
 * ```ts
 * checkStepSettings({ epochs: 2 }, 'train'); // { epochs: 2, batchSize: 1024, learningRate: 0.001, clipNorm: undefined, seed: 0 }
 * ```
 */
export function checkStepSettings(o: Pick<TrainOptions, keyof StepSettings>, fn: string): StepSettings {
  const epochs = o.epochs ?? 1;
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new Error(`'epochs' passed to '${fn}' must be a non-negative integer, got ${String(epochs)}`);
  }
  const batchSize = checkPositiveInt(o.batchSize ?? 1024, fn, 'batchSize');
  const learningRate = checkPositiveNumber(o.learningRate ?? 1e-3, fn, 'learningRate') as number;
  const clipNorm = checkPositiveNumber(o.clipNorm, fn, 'clipNorm');
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`'seed' passed to '${fn}' must be an integer, got ${String(seed)}`);
  return { epochs, batchSize, learningRate, clipNorm, seed };
}

/**
 * Throws on option names a function does not know (a misspelt `clipnorm` would otherwise be ignored). Internal.
 *
 * @example
 * ```ts
 * checkKnownOptions({ clipnorm: 1 }, new Set(['clipNorm']), 'train'); // throws
 * ```
 */
export function checkKnownOptions(options: object, known: ReadonlySet<string>, fn: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new Error(`unknown option '${key}' passed to '${fn}'; known options are ${[...known].join(', ')}`);
    }
  }
}

/** The train/validation pair to use, checked: never a test set, never an empty validation set. */
function resolveData(data: TrainData, fraction: number | undefined, seed: number, fn: string):
    { train: DuetDataset; validation: DuetDataset | undefined } {
  if (data === null || typeof data !== 'object' || data.train === undefined) {
    throw new Error(`'data' passed to '${fn}' must be { train, validation? }`);
  }
  const extra = Object.keys(data).filter((k) => k !== 'train' && k !== 'validation');
  if (extra.length > 0) {
    throw new Error(`'data' passed to '${fn}' takes only 'train' and 'validation', got '${extra[0]}'; ` +
      `test data must never be used for training or model selection`);
  }
  checkDataset(data.train, fn, 'data.train');
  if (isTestSet(data.train)) {
    throw new Error(`'data.train' passed to '${fn}' is a test set; train on the training data`);
  }
  if (data.validation !== undefined) {
    checkDataset(data.validation, fn, 'data.validation');
    if (isTestSet(data.validation)) {
      throw new Error(`'data.validation' passed to '${fn}' is a test set; select epochs on data held ` +
        `out of the training data (e.g. validationFraction) and report on the test set once`);
    }
    if (fraction !== undefined) {
      throw new Error(`'validationFraction' passed to '${fn}' cannot be combined with 'data.validation'`);
    }
    if (data.validation.size === 0) throw new Error(`'data.validation' passed to '${fn}' is empty`);
    return { train: data.train, validation: data.validation };
  }
  if (fraction === undefined || fraction === 0) return { train: data.train, validation: undefined };
  if (!(typeof fraction === 'number' && fraction > 0 && fraction < 1)) {
    throw new Error(`'validationFraction' passed to '${fn}' must be in (0, 1), got ${String(fraction)}`);
  }
  const split = splitValidation(data.train, fraction, seed);
  if (split.validation.size === 0) {
    throw new Error(`'validationFraction' passed to '${fn}' held out no rows: the training data has ` +
      `too few users (${new Set(data.train.user).size}) to split`);
  }
  return split;
}

/** Copies of every weight of `model` (trainable or not), owned by the caller. */
function snapshot(model: tfl.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w) => tf.clone(w));
}

/**
 * Trains `model` on `data.train`: Adam on the mean binary cross-entropy of the model's logits,
 * computed with `tf.variableGrads` over `model.trainableWeights`, rows shuffled per epoch from
 * `seed`. With validation data (`data.validation`, or `validationFraction` of the training users
 * held out) the model is scored after each epoch and, with `restoreBest`, ends with the weights
 * of the best epoch by `selectBy`. Test data has no place here: pass it to `evaluateModel` once,
 * after training.
 *
 * Two runs with the same seed, data and initial weights give identical losses (for models with no
 * unseeded randomness such as unseeded dropout). No tensors leak: the optimiser's state is freed.
 *
 * @param model A model with inputs named after dataset columns and one logit output per row.
 * @param data `{ train, validation? }`; see {@link TrainData}.
 * @param options See {@link TrainOptions}.
 * @returns `{ history, bestEpoch, trainSamplesPerSecond, aborted }`; see {@link TrainResult}.
 * @throws On bad options (including unknown names), a test set passed as training or validation
 * data, model inputs that are not dataset columns or do not fit the data's widths.
 * @example
 * ```ts
 * const { train: trainSet, test } = synthetic({ users: 200, items: 500 });
 * const result = await train(model, { train: trainSet }, {
 *   epochs: 5, batchSize: 256, clipNorm: 5, validationFraction: 0.1,
 *   onEpoch: (log) => console.error(log.epoch, log.loss, log.validation?.auc),
 * });
 * const report = await evaluateModel(model, test); // the test set, once
 * ```
 */
export async function train(model: tfl.LayersModel, data: TrainData, options: TrainOptions = {}): Promise<TrainResult> {
  const fn = 'train';
  checkKnownOptions(options, KNOWN_OPTIONS, fn);
  const settings = checkStepSettings(options, fn);
  const selectBy = options.selectBy ?? 'auc';
  if (selectBy !== 'auc' && selectBy !== 'logloss') {
    throw new Error(`'selectBy' passed to '${fn}' must be 'auc' or 'logloss', got ${String(selectBy)}`);
  }
  const restoreBest = options.restoreBest ?? true;
  const { signal } = options;
  const { train: trainSet, validation } = resolveData(data, options.validationFraction, settings.seed, fn);
  if (trainSet.size === 0) throw new Error(`'data.train' passed to '${fn}' has no rows`);
  ensureDuetKernels();
  bindModelInputs(model, trainSet, fn); // fail before any work when the model does not fit
  if (validation !== undefined) bindModelInputs(model, validation, fn);

  const history: EpochLog[] = [];
  let bestEpoch = 0;
  let bestValue = NaN;
  const checkpointDir = options.checkpointDir;
  const runOptions: Record<string, unknown> = {
    batchSize: settings.batchSize, learningRate: settings.learningRate,
    generatorLearningRate: options.generatorLearningRate ?? null, clipNorm: settings.clipNorm ?? null,
    seed: settings.seed, validationFraction: options.validationFraction ?? null, selectBy, restoreBest,
    data: dataFingerprint(trainSet.size, [trainSet.user, trainSet.target, trainSet.trigger, trainSet.click, trainSet.label]),
    validation: validation === undefined ? null :
      dataFingerprint(validation.size, [validation.user, validation.target, validation.trigger, validation.click, validation.label]),
    model: modelFingerprint(model),
  };
  const resumed = await openRunCheckpoint({ dir: checkpointDir, resume: options.resume ?? false }, fn, runOptions, fn);
  let best: tf.Tensor[] | undefined;
  let trainMs = 0;
  let trainRows = 0;
  let aborted = false;
  const better = (v: number) => !Number.isNaN(v) &&
    (Number.isNaN(bestValue) || (selectBy === 'auc' ? v > bestValue : v < bestValue));

  const generatorLearningRate = checkPositiveNumber(options.generatorLearningRate, fn, 'generatorLearningRate');
  const objective = createObjective({ name: 'pointwiseBce' });
  objective.check(model, trainSet, fn);
  const steps = objective.steps(trainSet, settings.batchSize);
  const stepperOptions: StepperOptions = { learningRate: settings.learningRate, clipNorm: settings.clipNorm, generatorLearningRate };
  const stepper = new Stepper(model, stepperOptions, fn);
  const bar = new ProgressBar(options.progress === true);
  let runner: EpochRunner | undefined;
  let threads = 1;
  let firstEpoch = 1;
  try {
    if (resumed !== null) {
      best = restoreRun(resumed, model, stepper, checkpointDir as string) ?? undefined;
      const p = resumed.progress as { history: EpochLog[]; bestEpoch: number; bestValue: number; trainMs: number; trainRows: number };
      history.push(...p.history);
      ({ bestEpoch, bestValue, trainMs, trainRows } = p);
      firstEpoch = resumed.epoch + 1;
    }
    runner = await startRunner({ model, objective, data: trainSet, stepper, stepperOptions,
      threads: options.threads ?? resumed?.threads, batchSize: settings.batchSize, seed: settings.seed, epochs: settings.epochs, caller: fn });
    threads = runner.threads;
    const threadText = `${threads} thread${threads === 1 ? '' : 's'}`;
    for (let epoch = firstEpoch; epoch <= settings.epochs && !aborted; epoch++) {
      if (signal?.aborted) { aborted = true; break; }
      const started = performance.now();
      let lossSum = 0;
      let rows = 0;
      let step = 0;
      ({ aborted } = await runner.runEpoch(epoch - 1, () => signal?.aborted === true, (loss) => {
        lossSum += loss.sum;
        rows += loss.count;
        step++;
        if (bar.active) {
          const elapsed = performance.now() - started;
          bar.update(`epoch ${epoch}/${settings.epochs}`, step, steps, () =>
            `loss ${(lossSum / rows).toFixed(4)} ${Math.round(samplesPerSecond(rows, elapsed))} rows/s, ${threadText}`,
          step === steps);
        }
      }));
      if (aborted) break;
      const ms = performance.now() - started;
      trainMs += ms;
      trainRows += rows;
      const log: EpochLog = { epoch, loss: lossSum / rows, samplesPerSecond: samplesPerSecond(rows, ms), seconds: ms / 1000, threads };
      if (validation !== undefined) {
        const scores = await scoreDataset(model, validation, { batchSize: settings.batchSize });
        log.validation = evaluateRanking(scores, validation.label, validation.user);
        if (better(selectBy === 'auc' ? log.validation.auc : log.validation.logloss)) {
          bestValue = selectBy === 'auc' ? log.validation.auc : log.validation.logloss;
          bestEpoch = epoch;
          if (restoreBest) {
            tf.dispose(best);
            best = snapshot(model);
          }
        }
      } else {
        bestEpoch = epoch;
      }
      history.push(log);
      bar.finish();
      if (checkpointDir !== undefined) {
        await saveRun(checkpointDir, {
          trainer: fn, epoch, threads, options: runOptions, model, best: best ?? null, stepper,
          progress: { history, bestEpoch, bestValue, trainMs, trainRows },
        });
      }
      await options.onEpoch?.(log);
    }
    if (aborted && bar.active) bar.finish();
    if (best !== undefined) model.setWeights(best);
    // No epoch had a defined metric (e.g. one-class validation data): the last epoch stands.
    if (bestEpoch === 0) bestEpoch = history.length;
  } finally {
    await runner?.dispose();
    stepper.dispose();
    tf.dispose(best);
  }
  return { history, bestEpoch, trainSamplesPerSecond: samplesPerSecond(trainRows, trainMs), aborted, threads };
}
