/**
 * Time to accuracy on the seq-loo-v1 protocol: trains base SASRec, with the settings `duet-tf
 * compare` uses on a seq-loo-v1 folder (src/cli/loo/), with the sequence objective
 * (`trainSequence`) on a folder written by `duet-tf prepare --protocol loo`, validating (full
 * ranking) after every epoch, and reports the seconds until validation NDCG@10 first reached
 * `--target` (default 0.0318, the published SASRec test figure on Beauty), beside the per-epoch
 * training time.
 *
 *   npm run -s bench:time-to-accuracy -- --data DIR [--threads N] [--target 0.0318]
 *       [--max-minutes 60] [--max-epochs 200] [--patience 10] [--backend auto|wasm|cpu|tensorflow]
 *       [--batch 128] [--lr 0.005] [--dim 64] [--loss ce] [--model-options JSON] [--seed 0]
 *
 * Prints one JSON line on stdout (progress on stderr): `{ bench: 'time-to-accuracy', machine,
 * backend, params, reached, secondsToTarget, trainSecondsToTarget, epochToTarget, epochs,
 * epochSeconds[], validationSeconds[], valNdcg10[], meanEpochSeconds, bestValNdcg10, threads,
 * stopped, load1, loadStart, loadMean }`. Training stops once the target is reached (or at
 * `--max-epochs`, the `--max-minutes` budget, or `--patience` epochs without improvement).
 * The test targets are never read.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';

import {
  type BackendChoice, createModel, type CreateModelOptions, readSeqLooSplit, type SequenceEpochLog,
  type SequenceLossName, trainSequence, useBackend,
} from '../src/index';
import { LOO_DEFAULTS, LOO_LEARNING_RATES, LOO_MODEL_DEFAULTS } from '../src/cli/loo/loo_experiment';
import { type BenchRecord, machineInfo, round } from './common';

const USAGE = 'usage: npm run -s bench:time-to-accuracy -- --data DIR [--threads N] [--target 0.0318] ' +
  '[--max-minutes 60] [--max-epochs 200] [--patience 10] [--backend auto|wasm|cpu|tensorflow] ' +
  '[--batch 128] [--lr 0.005] [--dim 64] [--loss ce|sampled|bce] [--model-options JSON] [--seed 0]';

/** Base SASRec as `duet-tf compare`/`train` build it on a seq-loo-v1 folder (2 blocks, 2 heads, pre-LN, dropout 0.2, no sequenceTransform, no towers, √D-scaled click embeddings; lr 0.005). */
export const DEFAULT_SASREC_OPTIONS = LOO_MODEL_DEFAULTS.sasrec;

/** Settings of {@link timeToAccuracy}. */
export interface TimeToAccuracyOptions {
  data: string;
  target: number;
  threads?: number;
  maxMinutes: number;
  maxEpochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  dim: number;
  loss: SequenceLossName;
  modelOptions: Record<string, unknown>;
  seed: number;
  log: (message: string) => void;
}

const load1 = () => Number(os.loadavg()[0].toFixed(2));

/** Trains until validation NDCG@10 reaches `o.target` (or a limit); the record to print. */
export async function timeToAccuracy(backend: string, o: TimeToAccuracyOptions): Promise<BenchRecord> {
  const split = await readSeqLooSplit(o.data);
  const clickLength = split.protocol.max_len;
  const modelOptions = { ...DEFAULT_SASREC_OPTIONS, ...o.modelOptions };
  const { model } = createModel({
    ...modelOptions, model: 'sasrec', numItems: split.numItems, clickLength, dim: o.dim, seed: o.seed,
  } as CreateModelOptions);
  o.log(`${o.data}: ${split.numUsers} users, ${split.numItems} items, ${split.protocol.train_targets} training targets; ` +
    `target validation ndcg@10 ${o.target}`);
  const controller = new AbortController();
  const loads: number[] = [];
  const loadStart = load1();
  const started = performance.now();
  let secondsToTarget: number | null = null;
  let trainSeconds = 0;
  let trainSecondsToTarget: number | null = null;
  let epochToTarget: number | null = null;
  const result = await trainSequence(model, split, {
    loss: o.loss, maxEpochs: o.maxEpochs, patience: o.patience, maxMinutes: o.maxMinutes,
    batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed, threads: o.threads,
    restoreBest: false, signal: controller.signal,
    onEpoch: (log: SequenceEpochLog) => {
      loads.push(load1());
      trainSeconds += log.seconds;
      const ndcg = log.validation?.['ndcg@10'] ?? 0;
      o.log(`epoch ${log.epoch}: loss ${log.loss.toFixed(4)} val ndcg@10 ${ndcg.toFixed(4)} ` +
        `(${log.seconds.toFixed(1)} s + ${(log.validationSeconds ?? 0).toFixed(1)} s validation, ` +
        `${log.threads} thread${log.threads === 1 ? '' : 's'}, load ${loads[loads.length - 1]})`);
      if (epochToTarget === null && ndcg >= o.target) {
        secondsToTarget = (performance.now() - started) / 1000;
        trainSecondsToTarget = trainSeconds;
        epochToTarget = log.epoch;
        controller.abort(); // the next epoch stops at its first step
      }
    },
  });
  for (const w of model.weights) w.dispose();
  const h = result.history;
  const epochSeconds = h.map((l) => round(l.seconds));
  return {
    bench: 'time-to-accuracy', machine: machineInfo(), backend,
    params: {
      data: o.data, model: 'sasrec', variant: 'base', dim: o.dim, modelOptions, clickLength, loss: o.loss,
      batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed, target: o.target,
      maxMinutes: o.maxMinutes, maxEpochs: o.maxEpochs, patience: o.patience, threads: o.threads ?? 'default',
    },
    reached: epochToTarget !== null,
    secondsToTarget: secondsToTarget === null ? null : round(secondsToTarget),
    trainSecondsToTarget: trainSecondsToTarget === null ? null : round(trainSecondsToTarget),
    epochToTarget,
    epochs: h.length,
    epochSeconds,
    validationSeconds: h.map((l) => round(l.validationSeconds ?? 0)),
    meanEpochSeconds: h.length === 0 ? null : round(h.reduce((s, l) => s + l.seconds, 0) / h.length),
    valNdcg10: h.map((l) => round(l.validation?.['ndcg@10'] ?? 0)),
    bestValNdcg10: result.best === null ? null : round(result.best['ndcg@10']),
    positionsPerSecond: h.length === 0 ? null : round(h.reduce((s, l) => s + l.positionsPerSecond, 0) / h.length),
    threads: result.threads,
    stopped: epochToTarget !== null ? 'target' : result.stopped,
    seconds: round(result.seconds),
    loadStart,
    loadMean: loads.length === 0 ? null : round(loads.reduce((s, l) => s + l, 0) / loads.length),
    load1: load1(),
  };
}

function number(values: Record<string, unknown>, name: string, fallback: number,
    check: (v: number) => boolean, what: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!check(v)) throw new Error(`--${name} must be ${what}, got '${String(raw)}'; ${USAGE}`);
  return v;
}

const positive = (v: number) => Number.isFinite(v) && v > 0;
const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, threads: { type: 'string' }, target: { type: 'string' },
      'max-minutes': { type: 'string' }, 'max-epochs': { type: 'string' }, patience: { type: 'string' },
      backend: { type: 'string', default: 'auto' }, batch: { type: 'string' }, lr: { type: 'string' },
      dim: { type: 'string' }, loss: { type: 'string', default: 'ce' }, 'model-options': { type: 'string' },
      seed: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.data === undefined) throw new Error(`--data DIR is required (a seq-loo-v1 folder); ${USAGE}`);
  if (!['ce', 'sampled', 'bce'].includes(values.loss)) throw new Error(`--loss must be ce, sampled or bce; ${USAGE}`);
  let modelOptions: Record<string, unknown> = {};
  if (values['model-options'] !== undefined) {
    try {
      modelOptions = JSON.parse(values['model-options']) as Record<string, unknown>;
    } catch {
      throw new Error(`--model-options must be a JSON object, got '${values['model-options']}'`);
    }
    if (typeof modelOptions !== 'object' || modelOptions === null || Array.isArray(modelOptions)) {
      throw new Error(`--model-options must be a JSON object, got '${values['model-options']}'`);
    }
  }
  const log = (message: string) => process.stderr.write(`[time-to-accuracy] ${message}\n`);
  const options: TimeToAccuracyOptions = {
    data: values.data,
    target: number(values, 'target', 0.0318, (v) => Number.isFinite(v) && v > 0 && v <= 1, 'in (0, 1]'),
    threads: values.threads === undefined ? undefined : number(values, 'threads', 1, positiveInt, 'a positive integer'),
    maxMinutes: number(values, 'max-minutes', 60, positive, 'a positive number'),
    maxEpochs: number(values, 'max-epochs', 200, positiveInt, 'a positive integer'),
    patience: number(values, 'patience', 10, positiveInt, 'a positive integer'),
    batchSize: number(values, 'batch', LOO_DEFAULTS.batch, positiveInt, 'a positive integer'),
    learningRate: number(values, 'lr', LOO_LEARNING_RATES.sasrec, positive, 'a positive number'),
    dim: number(values, 'dim', LOO_DEFAULTS.dim, positiveInt, 'a positive integer'),
    loss: values.loss as SequenceLossName,
    modelOptions,
    seed: number(values, 'seed', 0, Number.isInteger, 'an integer'),
    log,
  };
  const backend = await useBackend(values.backend as BackendChoice);
  log(`backend ${backend}, load ${load1()}`);
  console.log(JSON.stringify(await timeToAccuracy(backend, options)));
}

if (process.argv[1] !== undefined && /time_to_accuracy\.[tj]s$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
