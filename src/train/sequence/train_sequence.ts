/**
 * `trainSequence`: sequence-level training on a seq-loo-v1 split — a target at every position
 * of each user's training sequence in one forward pass, Adam on a sequence loss, validation
 * NDCG@10 (full ranking) after every epoch, early stopping with a patience and a time budget,
 * and the best epoch's weights restored. The test targets are never read here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import { evaluateFullRanking } from '../../eval/full_ranking/evaluate_full_ranking';
import { trainingCounts } from '../../eval/full_ranking/popularity';
import type { FullRankingReport } from '../../eval/full_ranking/ranks';
import { checkPositiveInt } from '../../eval/score';
import { sequenceView } from '../../wrap/sequence_view';
import { ensureDuetKernels } from '../ensure_kernels';
import { createSequenceLoss } from '../losses/create_loss';
import type { SequenceLoss, SequenceLossName } from '../losses/types';
import { ProgressBar } from '../progress';
import { checkKnownOptions } from '../train';
import { SequenceObjective, type SequenceData } from '../objectives/sequence';
import '../objectives/index';
import { startRunner } from '../start_runner';
import { Stepper } from '../train_step';
import { trainableUsers } from './sequence_batches';
import { dataFingerprint, modelFingerprint } from '../checkpoint/fingerprint';
import { openRunCheckpoint, restoreRun, saveRun } from '../checkpoint/run_checkpoint';

/**
 * What {@link trainSequence} reports after each epoch.
 *
 * @example
 * ```ts
 * const onEpoch = (log: SequenceEpochLog) => console.error(log.epoch, log.loss, log.validation?.['ndcg@10']);
 * ```
 */
export interface SequenceEpochLog {
  /** The epoch, from 1. */
  epoch: number;
  /** Mean training loss over the epoch's steps (each step's loss before its update). */
  loss: number;
  /** Wall time of the epoch's training steps, in seconds. */
  seconds: number;
  /** Target positions trained per second. */
  positionsPerSecond: number;
  /** Threads the steps ran on. */
  threads: number;
  /** Full-ranking metrics on the validation targets after the epoch (absent with `validate: false`). */
  validation?: FullRankingReport;
  /** Wall time of that validation, in seconds. */
  validationSeconds?: number;
}

/**
 * Why {@link trainSequence} stopped: all `maxEpochs` ran, validation NDCG@10 did not improve for
 * `patience` epochs, the `maxMinutes` budget ran out, or `signal` aborted.
 *
 * @example
 * ```ts
 * const why: SequenceStop = result.stopped; // 'patience'
 * ```
 */
export type SequenceStop = 'max-epochs' | 'patience' | 'time' | 'aborted';

/**
 * Options of {@link trainSequence}.
 *
 * @example
 * ```ts
 * const options: SequenceTrainOptions = { loss: 'ce', maxEpochs: 200, patience: 10, maxMinutes: 30 };
 * ```
 */
export interface SequenceTrainOptions {
  /** The loss: a name (`'ce'`, `'sampled'`, `'bce'`) with `lossOptions`, or a built loss. Default `'ce'`. */
  loss?: SequenceLossName | SequenceLoss;
  /** Options of a loss given by name (e.g. `{ negatives: 512 }` for `'sampled'`). Default none. */
  lossOptions?: Record<string, unknown>;
  /** Most epochs. Default 200. */
  maxEpochs?: number;
  /** Stop after this many epochs without a better validation NDCG@10. Default 10. */
  patience?: number;
  /**
   * A time budget in minutes for the whole call (training and validation): when it runs out,
   * training stops after the current step and the best completed epoch is kept. Default: none.
   */
  maxMinutes?: number;
  /** Users (rows) per step. Default 256. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Adam learning rate of `ParameterGenerator` weights. Default: `learningRate`. */
  generatorLearningRate?: number;
  /** Clip each step's gradients to this global norm. Default: none. */
  clipNorm?: number;
  /** Seed of the batch order and the negatives. Default 0. */
  seed?: number;
  /** Group users of similar length into batches (see `sequenceBatches`). Default true. */
  bucket?: boolean;
  /** Validate after every epoch (needed for early stopping and the best epoch). Default true. */
  validate?: boolean;
  /** Users per validation batch. Default 512. */
  validationBatchSize?: number;
  /** With validation, end with the weights of the best epoch. Default true. */
  restoreBest?: boolean;
  /**
   * Also rank the validation targets with the starting weights, as epoch 0: the best epoch may
   * then be 0, the model left as it came. For training that continues a trained model (a DUET
   * model from its base, `duetFromBase`), so that it never ends worse on validation than it
   * started. A resumed run keeps the first run's start among its epochs. Default false.
   */
  validateStart?: boolean;
  /** Called after each epoch (awaited). */
  onEpoch?: (log: SequenceEpochLog) => void | Promise<void>;
  /** With `validateStart`: called with the starting weights' validation metrics, before the first epoch (awaited). */
  onStart?: (validation: FullRankingReport) => void | Promise<void>;
  /** A progress bar on stderr when it is a terminal. Default false. */
  progress?: boolean;
  /** Stops after the current step; the best epoch so far is kept. */
  signal?: AbortSignal;
  /**
   * Threads to train on (Node: this one plus worker threads, each with a replica; every step's
   * batch is split between them and their gradients summed, so the result is that of one
   * thread). Default: every core for long enough runs (see `train`'s `threads`).
   */
  threads?: number;
  /**
   * A folder (Node only) to write a checkpoint to after each completed epoch, crash-safe: the
   * weights, both Adams' state, the epoch (batch order and negatives are keyed by seed, epoch
   * and step, so that is the whole random state), the best epoch's weights and metrics, the
   * patience counter and the history. A folder already holding a checkpoint is refused unless
   * `resume`. Default: none.
   */
  checkpointDir?: string;
  /**
   * Continue from the checkpoint in `checkpointDir`, exactly as if never interrupted (see
   * `train`'s `resume`). Refused, naming them, when options the run depends on differ (loss,
   * batch size, rates, clipping, seed, bucketing, validation, data, architecture); `maxEpochs`,
   * `patience`, `maxMinutes` (a budget for this call) and `threads` may change. Default false.
   */
  resume?: boolean;
}

/**
 * What {@link trainSequence} returns.
 *
 * @example
 * ```ts
 * const { bestEpoch, best, stopped } = await trainSequence(model, split, { maxEpochs: 50 });
 * ```
 */
export interface SequenceTrainResult {
  /** One log per completed epoch. */
  history: SequenceEpochLog[];
  /** The epoch with the best validation NDCG@10 (the model holds its weights), or the last epoch without validation; 0 if none completed, or (with `validateStart`) if none beat the start. */
  bestEpoch: number;
  /** The validation metrics of `bestEpoch` (null without validation). */
  best: FullRankingReport | null;
  /** Why training stopped. */
  stopped: SequenceStop;
  /** Wall time of the whole call, in seconds. */
  seconds: number;
  /** With `validateStart`: the validation metrics of the starting weights (else null). */
  start: FullRankingReport | null;
  /** The loss used (name and resolved options). */
  loss: { name: SequenceLossName; options: Readonly<Record<string, number>> };
  /** Threads the steps ran on. */
  threads: number;
}

const KNOWN_OPTIONS = new Set(['loss', 'lossOptions', 'maxEpochs', 'patience', 'maxMinutes', 'batchSize',
  'learningRate', 'generatorLearningRate', 'clipNorm', 'seed', 'bucket', 'validate',
  'validationBatchSize', 'restoreBest', 'validateStart', 'onEpoch', 'onStart', 'progress', 'signal', 'threads', 'checkpointDir', 'resume']);

function positive(value: number | undefined, fallback: number | undefined, name: string): number | undefined {
  const v = value ?? fallback;
  if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
    throw new Error(`'${name}' passed to 'trainSequence' must be a positive number, got ${String(v)}`);
  }
  return v;
}

/**
 * Trains `model` on the training sequences of `split` (protocol seq-loo-v1): every position
 * t ≥ 2 of each user's s_1..s_{n-2} is a target, scored from the model's user vector of the
 * prefix before it (see `sequenceView`) by the loss. After each epoch the validation targets
 * s_{n-1} are ranked against the whole catalogue; training stops when validation NDCG@10 has not
 * improved for `patience` epochs (or at `maxEpochs`, or when `maxMinutes` run out) and the model
 * ends with the best epoch's weights. The test targets are not read: report them once, after,
 * with `evaluateFullRanking(model, split, { part: 'test' })`.
 *
 * @param model A model with a sequence view: the reference SASRec (causal) or GRU4Rec, base or
 *   DUET, built with `clickLength` = the split's `max_len` and `numItems` ≥ the split's.
 * @param split The seq-loo-v1 split.
 * @param options See {@link SequenceTrainOptions}.
 * @returns See {@link SequenceTrainResult}.
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * const { model } = createModel({ model: 'sasrec', numItems: split.numItems, clickLength: 50 });
 * const result = await trainSequence(model, split, { loss: 'ce', maxEpochs: 100, patience: 5 });
 * const test = await evaluateFullRanking(model, split, { part: 'test' }); // once, at the end
 * ```
 */
export async function trainSequence(model: tfl.LayersModel, split: SeqLooSplit,
    options: SequenceTrainOptions = {}): Promise<SequenceTrainResult> {
  const fn = 'trainSequence';
  checkKnownOptions(options, KNOWN_OPTIONS, fn);
  const started = performance.now();
  const view = sequenceView(model);
  const loss = typeof options.loss === 'object' && options.loss !== null ? options.loss :
    createSequenceLoss(options.loss ?? 'ce', options.lossOptions ?? {});
  if (typeof options.loss === 'object' && options.lossOptions !== undefined) {
    throw new Error(`'lossOptions' passed to '${fn}' apply to a loss given by name, not to a built loss`);
  }
  const maxEpochs = options.maxEpochs ?? 200;
  if (!Number.isInteger(maxEpochs) || maxEpochs < 0) {
    throw new Error(`'maxEpochs' passed to '${fn}' must be a non-negative integer, got ${String(maxEpochs)}`);
  }
  const patience = checkPositiveInt(options.patience ?? 10, fn, 'patience');
  const maxMinutes = positive(options.maxMinutes, undefined, 'maxMinutes');
  const batchSize = checkPositiveInt(options.batchSize ?? 256, fn, 'batchSize');
  const learningRate = positive(options.learningRate, 1e-3, 'learningRate') as number;
  const generatorLearningRate = positive(options.generatorLearningRate, undefined, 'generatorLearningRate');
  const clipNorm = positive(options.clipNorm, undefined, 'clipNorm');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`'seed' passed to '${fn}' must be an integer, got ${String(seed)}`);
  const validate = options.validate ?? true;
  const restoreBest = options.restoreBest ?? true;
  const validateStart = options.validateStart ?? false;
  if (validateStart && !validate) throw new Error(`'validateStart' passed to '${fn}' needs 'validate'`);
  if (split?.protocol?.protocol !== 'seq-loo-v1') {
    throw new Error(`'split' passed to '${fn}' must be a seq-loo-v1 split (buildSeqLooSplit, readSeqLooSplit)`);
  }
  if (trainableUsers(split).length === 0) throw new Error(`'split' passed to '${fn}' has no user with a training target`);
  ensureDuetKernels();
  const deadline = maxMinutes === undefined ? Infinity : started + maxMinutes * 60_000;
  const stepperOptions = { learningRate, generatorLearningRate, clipNorm };
  const objective = new SequenceObjective({
    loss: loss.name, lossOptions: { ...loss.options }, clickLength: view.clickLength, bucket: options.bucket ?? true,
  });
  const data: SequenceData = {
    items: split.items, offsets: split.offsets, numUsers: split.numUsers, numItems: split.numItems,
    itemCounts: trainingCounts(split),
  };
  objective.check(model, data, fn);
  const stepper = new Stepper(model, stepperOptions, fn);
  const bar = new ProgressBar(options.progress === true);
  const steps = objective.steps(data, batchSize);
  const history: SequenceEpochLog[] = [];
  let best: { epoch: number; report: FullRankingReport; weights: tf.Tensor[] | null } | null = null;
  let start: FullRankingReport | null = null;
  let stopped: SequenceStop = 'max-epochs';
  let sinceBest = 0;
  let threads = 1;
  let firstEpoch = 1;
  const checkpointDir = options.checkpointDir;
  const runOptions: Record<string, unknown> = {
    loss: loss.name, lossOptions: loss.options, batchSize, learningRate, generatorLearningRate: generatorLearningRate ?? null,
    clipNorm: clipNorm ?? null, seed, bucket: options.bucket ?? true, validate, restoreBest,
    ...(validateStart ? { validateStart } : {}),
    data: dataFingerprint(split.numUsers, [split.items, split.offsets, Int32Array.of(split.numItems)], 'users'),
    model: modelFingerprint(model),
  };
  try {
    const resumed = await openRunCheckpoint({ dir: checkpointDir, resume: options.resume ?? false }, fn, runOptions, fn);
    if (resumed !== null) {
      const weights = restoreRun(resumed, model, stepper, checkpointDir as string);
      const p = resumed.progress as { history: SequenceEpochLog[]; best: { epoch: number; report: FullRankingReport } | null; sinceBest: number };
      history.push(...p.history);
      best = p.best === null ? null : { ...p.best, weights };
      if (best === null && weights !== null) tf.dispose(weights);
      sinceBest = p.sinceBest;
      firstEpoch = resumed.epoch + 1;
    } else if (validateStart) {
      start = await evaluateFullRanking(model, split, { part: 'validation', batchSize: options.validationBatchSize });
      best = { epoch: 0, report: start, weights: restoreBest ? model.getWeights().map((w) => tf.clone(w)) : null };
      await options.onStart?.(start);
    }
    const runner = await startRunner({
      model, objective, data, stepper, stepperOptions, threads: options.threads ?? resumed?.threads, batchSize, seed,
      epochs: maxEpochs, caller: fn,
    });
    threads = runner.threads;
    try {
      if (validate && sinceBest >= patience && firstEpoch > 1) stopped = 'patience';
      for (let epoch = firstEpoch; epoch <= maxEpochs && stopped !== 'patience'; epoch++) {
        const epochStart = performance.now();
        let lossSum = 0;
        let positions = 0;
        let step = 0;
        let cut: SequenceStop | null = null;
        const { aborted } = await runner.runEpoch(epoch - 1, () => {
          if (options.signal?.aborted) cut = 'aborted';
          else if (performance.now() > deadline) cut = 'time';
          return cut !== null;
        }, (stepLoss) => {
          lossSum += stepLoss.sum;
          positions += stepLoss.count;
          step++;
          bar.update(`epoch ${epoch}`, step, steps, () => `loss ${(lossSum / Math.max(1, positions)).toFixed(4)}` +
            (best === null ? '' : ` best ndcg@10 ${best.report['ndcg@10'].toFixed(4)} (epoch ${best.epoch})`) +
            `, ${threads} thread${threads === 1 ? '' : 's'}`, step === steps);
        });
        if (aborted) {
          if (bar.active) bar.finish();
          stopped = cut ?? 'aborted';
          break;
        }
        const seconds = (performance.now() - epochStart) / 1000;
        const log: SequenceEpochLog = {
          epoch, loss: lossSum / Math.max(1, positions), seconds,
          positionsPerSecond: seconds > 0 ? positions / seconds : 0, threads,
        };
        if (validate) {
          const validationStart = performance.now();
          log.validation = await evaluateFullRanking(model, split, {
            part: 'validation', batchSize: options.validationBatchSize,
          });
          log.validationSeconds = (performance.now() - validationStart) / 1000;
          if (best === null || log.validation['ndcg@10'] > best.report['ndcg@10']) {
            if (best?.weights) tf.dispose(best.weights);
            best = { epoch, report: log.validation, weights: restoreBest ? model.getWeights().map((w) => tf.clone(w)) : null };
            sinceBest = 0;
          } else {
            sinceBest++;
          }
        }
        history.push(log);
        if (bar.active) bar.finish();
        if (checkpointDir !== undefined) {
          await saveRun(checkpointDir, {
            trainer: fn, epoch, threads, options: runOptions, model, best: best?.weights ?? null, stepper,
            progress: { history, best: best === null ? null : { epoch: best.epoch, report: best.report }, sinceBest },
          });
        }
        await options.onEpoch?.(log);
        if (validate && sinceBest >= patience) { stopped = 'patience'; break; }
        if (performance.now() > deadline) { stopped = 'time'; break; }
      }
    } finally {
      await runner.dispose();
    }
    if (best?.weights) model.setWeights(best.weights);
  } finally {
    stepper.dispose();
    if (best?.weights) tf.dispose(best.weights);
  }
  return {
    history,
    bestEpoch: validate ? best?.epoch ?? 0 : history.length,
    best: best?.report ?? null,
    stopped,
    seconds: (performance.now() - started) / 1000,
    start,
    loss: { name: loss.name, options: loss.options },
    threads,
  };
}
