/**
 * The pieces `train`, `eval` and `compare` share: the model and training options of the command
 * line, a training run that reports on stderr, the DUET generation timing and the result row.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import type { DuetDataset } from '../data/types';
import type { RankingReport } from '../eval/evaluate_ranking';
import { ParameterGenerator } from '../layers/parameter_generator';
import { MODEL_KINDS, type ModelKind } from '../models/common/options';
import { type CreateModelOptions, resolveModelOptions, type ResolvedConfig } from '../models/create_model';
import { train, type TrainResult } from '../train/train';
import { splitDuet } from '../wrap/split_duet';
import { type OptionSpec, type ParsedOptions, UsageError } from './args';
import type { RecordedRun } from './model_dir';
import type { CliIO } from './output';

/** Options every training command takes (model, data, optimisation, backend, output). */
export const TRAINING_OPTIONS: Record<string, OptionSpec> = {
  model: { type: 'string', required: true, choices: MODEL_KINDS, help: 'architecture' },
  data: { type: 'string', required: true, help: "split folder (train.txt, test.txt) or 'synthetic'" },
  epochs: { type: 'integer', min: 1, defaultText: 'required on a duet-seq-v1 folder; a seq-loo-v1 folder takes --max-epochs', help: 'passes over the training rows' },
  batch: { type: 'integer', min: 1, defaultText: '1024; 128 on a seq-loo-v1 folder', help: 'rows (seq-loo-v1: users) per optimisation step' },
  lr: { type: 'number', defaultText: '0.001; on a seq-loo-v1 folder 0.005 for sasrec, 0.002 for gru4rec', help: 'Adam learning rate' },
  dim: { type: 'integer', min: 1, defaultText: '32; 64 on a seq-loo-v1 folder', help: 'item embedding size D' },
  'model-options': { type: 'string', defaultText: "the model's", help: 'more model options as JSON, e.g. \'{"numBlocks":2}\'' },
  'max-train-rows': { type: 'integer', default: 0, min: 0, help: 'use the first N training rows, 0 = all' },
  'validation-fraction': { type: 'number', default: 0, help: 'hold out this fraction of training users to select the best epoch' },
  'clip-norm': { type: 'number', defaultText: 'no clipping', help: 'clip gradients to this global norm' },
  'generator-lr': { type: 'number', defaultText: '--lr; seq-loo-v1 from the base: 0.00005; from scratch: SASRec 0.002', help: 'Adam learning rate of the DUET generator' },
  seed: { type: 'integer', default: 0, help: 'seed of the initial weights and the shuffles' },
  threads: { type: 'integer', min: 1, help: 'training threads, this one plus worker threads (default: every core for runs big enough to gain)' },
  backend: { type: 'string', default: 'auto', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], help: 'TensorFlow.js backend' },
  json: { type: 'boolean', help: 'print the result as one JSON line' },
};

/** The optimisation settings of a command, checked. */
export interface RunSettings {
  epochs: number;
  batch: number;
  lr: number;
  generatorLr: number | undefined;
  clipNorm: number | undefined;
  seed: number;
  validationFraction: number | undefined;
  /** `--threads`, or undefined for train's default. */
  threads: number | undefined;
}

/** Reads and checks the optimisation options. */
export function runSettings(command: string, o: ParsedOptions): RunSettings {
  if (o.epochs === undefined) {
    throw new UsageError(`${command}: --epochs is required (passes over the training rows; a ` +
      'seq-loo-v1 folder from prepare --protocol loo takes --max-epochs instead)');
  }
  const lr = (o.lr as number | undefined) ?? 0.001;
  if (!(lr > 0)) throw new UsageError(`${command}: --lr must be a positive number, got ${lr}`);
  const fraction = o['validation-fraction'] as number;
  if (!(fraction >= 0 && fraction < 1)) {
    throw new UsageError(`${command}: --validation-fraction must be in [0, 1), got ${fraction}`);
  }
  const clip = o['clip-norm'] as number | undefined;
  if (clip !== undefined && !(clip > 0)) {
    throw new UsageError(`${command}: --clip-norm must be a positive number, got ${clip}`);
  }
  const generatorLr = o['generator-lr'] as number | undefined;
  if (generatorLr !== undefined && !(generatorLr > 0)) {
    throw new UsageError(`${command}: --generator-lr must be a positive number, got ${generatorLr}`);
  }
  return {
    epochs: o.epochs as number,
    batch: (o.batch as number | undefined) ?? 1024,
    lr,
    generatorLr,
    clipNorm: clip,
    seed: o.seed as number,
    validationFraction: fraction > 0 ? fraction : undefined,
    threads: o.threads as number | undefined,
  };
}

/** `--model-options` parsed: a JSON object of extra model options (empty when not given). */
export function parseModelOptions(command: string, o: ParsedOptions): Record<string, unknown> {
  if (o['model-options'] === undefined) return {};
  let extra: unknown;
  try {
    extra = JSON.parse(String(o['model-options']));
  } catch (e) {
    throw new UsageError(`${command}: --model-options is not valid JSON: ${(e as Error).message}`);
  }
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw new UsageError(`${command}: --model-options must be a JSON object, got ${String(o['model-options'])}`);
  }
  return extra as Record<string, unknown>;
}

/**
 * The resolved base-variant config of a command: `--model`, `--dim`, `--seed`, `--model-options`
 * (`extra`: that option already parsed, for a caller that needs it too).
 */
export function modelOptions(command: string, o: ParsedOptions, numItems: number,
    clickLength: number, extra = parseModelOptions(command, o)): ResolvedConfig {
  const options = {
    ...extra, model: o.model as ModelKind, numItems, clickLength,
    dim: (o.dim as number | undefined) ?? 32, seed: o.seed as number, variant: 'base',
  } as CreateModelOptions;
  try {
    return resolveModelOptions(options, command);
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

/** Trains `model`, writing one line per epoch to stderr; returns the result and its record. */
export async function trainLogged(io: CliIO, label: string, model: tfl.LayersModel,
    trainSet: DuetDataset, s: RunSettings, quiet: boolean, checkpoint?: { dir: string; resume: boolean }):
    Promise<{ result: TrainResult; record: RecordedRun }> {
  // --generator-lr concerns DUET models only; compare trains its base with the same settings.
  const generatorLr = model.layers.some((l) => l instanceof ParameterGenerator) ? s.generatorLr : undefined;
  const result = await train(model, { train: trainSet }, {
    epochs: s.epochs, batchSize: s.batch, learningRate: s.lr, clipNorm: s.clipNorm, seed: s.seed,
    generatorLearningRate: generatorLr, threads: s.threads,
    validationFraction: s.validationFraction, progress: io.isTTY && !quiet,
    ...(checkpoint === undefined ? {} : { checkpointDir: checkpoint.dir, resume: checkpoint.resume }),
    onEpoch: (log) => {
      const v = log.validation === undefined ? '' :
        ` validation auc ${log.validation.auc.toFixed(4)} ndcg@10 ${log.validation['ndcg@10'].toFixed(4)}`;
      io.stderr(`${label}: epoch ${log.epoch}/${s.epochs} loss ${log.loss.toFixed(4)}${v} ` +
        `(${log.seconds.toFixed(1)} s, ${Math.round(log.samplesPerSecond)} rows/s, ` +
        `${log.threads} thread${log.threads === 1 ? '' : 's'})\n`);
    },
  });
  const record: RecordedRun = {
    epochs: s.epochs, batch: s.batch, lr: s.lr,
    generator_lr: generatorLr ?? null,
    clip_norm: s.clipNorm ?? null, seed: s.seed,
    validation_fraction: s.validationFraction ?? null, best_epoch: result.bestEpoch,
    train_samples_per_s: round(result.trainSamplesPerSecond, 1),
    threads: result.threads,
    history: result.history.map((h) => ({
      epoch: h.epoch, loss: h.loss, seconds: round(h.seconds, 3),
      samples_per_s: round(h.samplesPerSecond, 1),
      ...(h.validation === undefined ? {} : { validation: metricsOf(h.validation) }),
    })),
  };
  return { result, record };
}

/** The cost of generating parameters for the test users with the DUET model's generator. */
export interface GenerationTiming {
  /** Mean milliseconds per user, one user per call (batch 1): what one request costs. */
  msPerUser: number;
  /** Mean milliseconds per user when all measured users go through in batches of 256. */
  msPerUserBatched: number;
  /** Users measured. */
  users: number;
}

/**
 * Times the generator part of a DUET model (from `splitDuet`) on the click sequences of the
 * test users (each user's first test row; all of a user's rows share the history). One warm-up
 * call first, so kernel set-up is not counted.
 */
export async function timeGeneration(duet: tfl.LayersModel, test: DuetDataset, maxUsers = 1000):
    Promise<GenerationTiming> {
  const { generator } = splitDuet(duet);
  const rows: number[] = [];
  const seen = new Set<number>();
  for (let r = 0; r < test.size && rows.length < maxUsers; r++) {
    if (!seen.has(test.user[r])) { seen.add(test.user[r]); rows.push(r); }
  }
  const inputs = generator.inputs.map((input) => {
    const name = input.sourceLayer.name;
    if (name !== 'click') {
      throw new Error(`timeGeneration: the generator reads input '${name}', expected 'click'`);
    }
    return input.dtype === 'int32' ? 'int32' : 'float32';
  });
  const L = test.clickLength;
  const batchOf = (from: number, to: number): tf.Tensor[] => inputs.map((dtype) => {
    const values = new Int32Array((to - from) * L);
    for (let i = from; i < to; i++) values.set(test.click.subarray(rows[i] * L, rows[i] * L + L), (i - from) * L);
    return tf.tensor2d(dtype === 'int32' ? values : Float32Array.from(values), [to - from, L], dtype);
  });
  const run = async (from: number, to: number) => {
    const xs = batchOf(from, to);
    const out = generator.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor;
    await out.data();
    tf.dispose([...xs, out]);
  };
  await run(0, 1);
  let started = performance.now();
  for (let i = 0; i < rows.length; i++) await run(i, i + 1);
  const single = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < rows.length; i += 256) await run(i, Math.min(i + 256, rows.length));
  const batched = performance.now() - started;
  return { msPerUser: single / rows.length, msPerUserBatched: batched / rows.length, users: rows.length };
}

/** `v` rounded to `digits` decimals (non-finite values unchanged), for printed results. */
export function round(v: number, digits = 4): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const METRIC_KEYS = ['auc', 'uauc', 'logloss', 'ndcg@5', 'hr@5', 'ndcg@10', 'hr@10', 'ndcg@20',
  'hr@20'] as const;

/** The ranking metrics of a report, rounded, in the CLI's key order. */
export function metricsOf(report: RankingReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of METRIC_KEYS) out[key] = round(report[key] as number, 6);
  return out;
}

/** One result line of `eval` and `compare`. */
export function resultRow(fields: {
  model: string; variant: string; backend: string; epochs: number;
  report: RankingReport; trainSamplesPerSecond: number | null;
  inferSamplesPerSecond: number | null; adaptMsPerUser?: number;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const row: Record<string, unknown> = {
    model: fields.model, variant: fields.variant, backend: fields.backend, epochs: fields.epochs,
    ...metricsOf(fields.report),
    train_samples_per_s: fields.trainSamplesPerSecond === null ? null : round(fields.trainSamplesPerSecond, 1),
    infer_samples_per_s: fields.inferSamplesPerSecond === null ? null : round(fields.inferSamplesPerSecond, 1),
  };
  if (fields.adaptMsPerUser !== undefined) row.adapt_ms_per_user = round(fields.adaptMsPerUser, 3);
  return { ...row, ...fields.extra };
}
