/**
 * What `train`, `eval` and `compare` do on a seq-loo-v1 folder (`prepare --protocol loo`):
 * sequence-level training with `trainSequence` (early stopping on validation NDCG@10, a time
 * budget, the best epoch restored), full-ranking evaluation of the test targets once at the end,
 * and the settings that differ from duet-seq-v1 folders (the model defaults chosen on Beauty's
 * validation targets, see docs/RESULTS.md).
 */
import * as fs from 'node:fs';

import type * as tfl from '@tensorflow/tfjs-layers';

import { isSeqLooFolder, readSeqLooSplit } from '../../data/protocols/seq_loo_io';
import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import type { FullRankingReport } from '../../eval/full_ranking/ranks';
import { ParameterGenerator } from '../../layers/parameter_generator';
import type { ModelKind } from '../../models/common/options';
import { type CreateModelOptions, resolveModelOptions, type ResolvedConfig } from '../../models/create_model';
import { trainSequence, type SequenceTrainResult } from '../../train/sequence/train_sequence';
import { type OptionSpec, type ParsedOptions, UsageError } from '../args';
import { round, type RunSettings } from '../experiment';
import type { RecordedRun } from '../model_dir';
import type { CliIO } from '../output';

/** The options only seq-loo-v1 folders read (shown in the help of train and compare). */
export const LOO_OPTIONS: Record<string, OptionSpec> = {
  loss: { type: 'string', default: 'ce', choices: ['ce', 'sampled', 'bce'], help: 'seq-loo-v1: sequence loss (full softmax, sampled softmax, one negative per position)' },
  'max-epochs': { type: 'integer', default: 200, min: 1, help: 'seq-loo-v1: most epochs (duet-seq-v1: --epochs)' },
  patience: { type: 'integer', default: 10, min: 1, help: 'seq-loo-v1: stop after this many epochs without a better validation NDCG@10' },
  'max-minutes': { type: 'number', defaultText: 'no budget', help: 'seq-loo-v1: training budget per model in minutes; the best epoch so far is kept' },
};

/** `--batch`, `--lr` and `--dim` when not given, on a seq-loo-v1 folder (`lr`: see {@link LOO_LEARNING_RATES}). */
export const LOO_DEFAULTS = { batch: 128, lr: 0.002, dim: 64 } as const;

/**
 * `--lr` when not given, per architecture, on a seq-loo-v1 folder. SASRec: 0.005 (with dropout
 * 0.2), chosen on Beauty's validation NDCG@10 in 8-minute runs: 0.0156 after 2 epochs, against
 * 0.0129 for the earlier lr 0.002 with dropout 0.5 and 0.0129 for lr 0.01 with dropout 0.2
 * (docs/RESULTS.md); GRU4Rec keeps 0.002.
 *
 * @example
 * ```ts
 * LOO_LEARNING_RATES.sasrec; // 0.005
 * ```
 */
export const LOO_LEARNING_RATES: Record<'sasrec' | 'gru4rec', number> = { sasrec: 0.005, gru4rec: LOO_DEFAULTS.lr };

/**
 * `--generator-lr` when not given, per architecture, on a seq-loo-v1 folder (undefined: `--lr`),
 * for a DUET model trained from scratch (`scratch`) or built from the trained base (`base`, the
 * default). From scratch, DUET-SASRec: 0.002 with lr 0.005 (at 0.005 validation NDCG@10 on Beauty
 * peaked at epoch 4, 0.0479, and fell every epoch after; at 0.002 it reached 0.0488 by epoch 3).
 * From the base, with its static weights frozen: 0.00005 for both. At 0.002 the generator threw
 * the trained base off (SASRec validation NDCG@10 0.0563 → 0.0530 after one epoch on Beauty); at
 * 0.0002 it peaks after one or two epochs and falls while the training loss keeps falling; at
 * 0.00005 it peaks later and higher. From three converged bases each, mean best validation
 * NDCG@10: SASRec 0.05974 against 0.05902 at 0.0002, GRU4Rec 0.04895 against 0.04874
 * (docs/RESULTS.md, "DUET-SASRec's generator rate", "DUET-GRU4Rec's generator rate").
 *
 * @example
 * ```ts
 * LOO_GENERATOR_LEARNING_RATES.base.sasrec; // 0.00005
 * ```
 */
export const LOO_GENERATOR_LEARNING_RATES: Record<'scratch' | 'base', Record<'sasrec' | 'gru4rec', number | undefined>> = {
  scratch: { sasrec: 0.002, gru4rec: undefined },
  base: { sasrec: 0.00005, gru4rec: 0.00005 },
};

/**
 * Model defaults on seq-loo-v1 per architecture, under `--model-options` (which wins). SASRec:
 * SASRec's own shape (2 blocks, 2 heads, pre-LayerNorm, no `sequenceTransform`, no towers: the
 * score is ⟨encoder state, item embedding⟩, `towerLayers: 0`; the click embeddings scaled by √D,
 * `scaleEmbeddings`) with dropout 0.2, not the SASRec paper's 0.5: in the time budget of a
 * `compare` the model is under-trained, and 0.2 learns faster on Beauty's validation targets.
 * No towers and the √D scale took validation NDCG@10 after 4 epochs from 0.0223 (two tanh towers,
 * unscaled) to 0.0469 (docs/RESULTS.md).
 *
 * @example
 * ```ts
 * LOO_MODEL_DEFAULTS.sasrec.towerLayers; // 0
 * ```
 */
export const LOO_MODEL_DEFAULTS: Record<'sasrec' | 'gru4rec', Record<string, unknown>> = {
  sasrec: {
    numBlocks: 2, numHeads: 2, norm: 'pre', dropout: 0.2, sequenceTransform: false, towerLayers: 0,
    scaleEmbeddings: true,
  },
  gru4rec: { dropout: 0.3 },
};

/**
 * The DUET side on seq-loo-v1: the generator reads the model's own history embeddings through a
 * causal GRU (so every position's parameters depend on its prefix alone) and generates the first
 * user-tower layer. SASRec: the output of `positionEmbedding` (`condition: 'positions'`), and one
 * linear tower layer per side (`towerLayers: 1`, base SASRec has none) whose user side is generated.
 *
 * @example
 * ```ts
 * LOO_DUET_DEFAULTS.sasrec.towerLayers; // 1
 * ```
 */
export const LOO_DUET_DEFAULTS: Record<'sasrec' | 'gru4rec', Record<string, unknown>> = {
  sasrec: { towerLayers: 1, dynamicLayers: ['userTower1'], generator: { condition: 'positions', encoder: 'gru' } },
  gru4rec: { dynamicLayers: ['userTower1'], generator: { condition: 'history', encoder: 'gru' } },
};

/** The value of `--data` in `argv` (`--data X` or `--data=X`), or undefined. */
function dataArgument(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data') return argv[i + 1];
    if (argv[i].startsWith('--data=')) return argv[i].slice('--data='.length);
  }
  return undefined;
}

/** Whether the command's `--data` is a seq-loo-v1 folder. */
export async function looData(argv: readonly string[]): Promise<boolean> {
  const data = dataArgument(argv);
  return data !== undefined && fs.existsSync(data) && fs.statSync(data).isDirectory() &&
    await isSeqLooFolder(data);
}

/** Reads the seq-loo-v1 folder of `--data`, errors as one line naming it. */
export async function loadLoo(command: string, dir: string): Promise<SeqLooSplit> {
  try {
    return await readSeqLooSplit(dir);
  } catch (e) {
    throw new Error(`${command}: ${(e as Error).message}`);
  }
}

/** Refuses the options that mean nothing on a seq-loo-v1 folder, when given. */
export function refuseOnLoo(command: string, argv: readonly string[], names: readonly string[]): void {
  for (const name of names) {
    if (argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) {
      throw new UsageError(`${command}: --${name} does not apply to a seq-loo-v1 folder` +
        (name === 'epochs' ? ' (use --max-epochs, --patience and --max-minutes)' : ''));
    }
  }
}

/** The training settings of a loo run: `--batch`, `--dim` fall back to {@link LOO_DEFAULTS}, `--lr` to {@link LOO_LEARNING_RATES}, `--generator-lr` to {@link LOO_GENERATOR_LEARNING_RATES}. */
export interface LooSettings extends RunSettings {
  dim: number;
  loss: 'ce' | 'sampled' | 'bce';
  maxEpochs: number;
  patience: number;
  maxMinutes: number | undefined;
}

/** Reads and checks the loo settings; `duetFromBase`: the DUET model is built from the trained base. */
export function looSettings(command: string, o: ParsedOptions, duetFromBase = false): LooSettings {
  const model = o.model as string;
  const lr = (o.lr as number | undefined) ??
    (model === 'sasrec' || model === 'gru4rec' ? LOO_LEARNING_RATES[model] : LOO_DEFAULTS.lr);
  if (!(lr > 0)) throw new UsageError(`${command}: --lr must be a positive number, got ${lr}`);
  const clip = o['clip-norm'] as number | undefined;
  if (clip !== undefined && !(clip > 0)) {
    throw new UsageError(`${command}: --clip-norm must be a positive number, got ${clip}`);
  }
  const generatorLr = (o['generator-lr'] as number | undefined) ??
    (model === 'sasrec' || model === 'gru4rec' ? LOO_GENERATOR_LEARNING_RATES[duetFromBase ? 'base' : 'scratch'][model] : undefined);
  if (generatorLr !== undefined && !(generatorLr > 0)) {
    throw new UsageError(`${command}: --generator-lr must be a positive number, got ${generatorLr}`);
  }
  const maxMinutes = o['max-minutes'] as number | undefined;
  if (maxMinutes !== undefined && !(maxMinutes > 0)) {
    throw new UsageError(`${command}: --max-minutes must be a positive number, got ${maxMinutes}`);
  }
  const maxEpochs = o['max-epochs'] as number;
  return {
    epochs: maxEpochs, batch: (o.batch as number | undefined) ?? LOO_DEFAULTS.batch, lr, generatorLr,
    clipNorm: clip, seed: o.seed as number, validationFraction: undefined,
    threads: o.threads as number | undefined, dim: (o.dim as number | undefined) ?? LOO_DEFAULTS.dim,
    loss: o.loss as LooSettings['loss'], maxEpochs, patience: o.patience as number, maxMinutes,
  };
}

/**
 * The resolved config of a loo run: `--model`, the loo model defaults, the DUET defaults for
 * `variant: 'duet'`, then `--model-options` (`extra`) over them, `clickLength` = the split's L.
 */
export function looModelConfig(command: string, o: ParsedOptions, s: LooSettings, split: SeqLooSplit,
    variant: 'base' | 'duet', extra: Record<string, unknown>): ResolvedConfig {
  const model = o.model as ModelKind;
  if (model === 'din') {
    throw new UsageError(`${command}: --model din does not rank the whole catalogue (its target ` +
      'attention scores one (user, item) pair at a time); seq-loo-v1 folders take sasrec or gru4rec here, ' +
      'and `compare --model din` ranks DIN on 99 sampled negatives per user');
  }
  const duet = variant === 'duet' ? LOO_DUET_DEFAULTS[model] : {};
  const generator = { ...(duet.generator as object | undefined), ...(extra.generator as object | undefined) };
  const options = {
    ...LOO_MODEL_DEFAULTS[model], ...duet, ...extra, generator,
    model, numItems: split.numItems, clickLength: split.protocol.max_len,
    dim: s.dim, seed: s.seed, variant,
  } as CreateModelOptions;
  try {
    return resolveModelOptions(options, command);
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

/** Metrics of a full-ranking report, rounded, in the CLI's key order. */
export function looMetrics(report: FullRankingReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ['hr@5', 'ndcg@5', 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20'] as const) {
    out[key] = round(report[key], 6);
  }
  return out;
}

/**
 * Trains `model` with `trainSequence`, one stderr line per epoch; the result and its record.
 * `validateStart` (a DUET model built from a trained base): epoch 0, the starting weights, is
 * validated too and kept when no epoch beats it.
 */
export async function trainLooLogged(io: CliIO, label: string, model: tfl.LayersModel, split: SeqLooSplit,
    s: LooSettings, quiet: boolean, checkpoint?: { dir: string; resume: boolean }, validateStart = false):
    Promise<{ result: SequenceTrainResult; record: RecordedRun }> {
  const generatorLr = model.layers.some((l) => l instanceof ParameterGenerator) ? s.generatorLr : undefined;
  const result = await trainSequence(model, split, {
    loss: s.loss, maxEpochs: s.maxEpochs, patience: s.patience, maxMinutes: s.maxMinutes,
    batchSize: s.batch, learningRate: s.lr, generatorLearningRate: generatorLr, clipNorm: s.clipNorm,
    seed: s.seed, threads: s.threads, progress: io.isTTY && !quiet, validateStart,
    onStart: (v) => {
      io.stderr(`${label}: epoch 0 (the start) validation ndcg@10 ${v['ndcg@10'].toFixed(4)} hr@10 ${v['hr@10'].toFixed(4)}\n`);
    },
    ...(checkpoint === undefined ? {} : { checkpointDir: checkpoint.dir, resume: checkpoint.resume }),
    onEpoch: (log) => {
      const v = log.validation;
      io.stderr(`${label}: epoch ${log.epoch} loss ${log.loss.toFixed(4)}` +
        (v === undefined ? '' : ` validation ndcg@10 ${v['ndcg@10'].toFixed(4)} hr@10 ${v['hr@10'].toFixed(4)}`) +
        ` (${log.seconds.toFixed(1)} s + ${(log.validationSeconds ?? 0).toFixed(1)} s validation, ` +
        `${Math.round(log.positionsPerSecond)} positions/s, ${log.threads} thread${log.threads === 1 ? '' : 's'})\n`);
    },
  });
  if (result.start !== null && result.bestEpoch === 0) {
    io.stderr(`${label}: no epoch beat epoch 0 (the start): kept as it was\n`);
  }
  const trainSeconds = result.history.reduce((sum, h) => sum + h.seconds, 0);
  const positions = split.protocol.train_targets * result.history.length;
  const record: RecordedRun = {
    epochs: result.history.length, batch: s.batch, lr: s.lr, generator_lr: generatorLr ?? null,
    clip_norm: s.clipNorm ?? null, seed: s.seed, validation_fraction: null, best_epoch: result.bestEpoch,
    train_samples_per_s: round(trainSeconds > 0 ? positions / trainSeconds : 0, 1),
    threads: result.threads,
    history: result.history.map((h) => ({
      epoch: h.epoch, loss: h.loss, seconds: round(h.seconds, 3), samples_per_s: round(h.positionsPerSecond, 1),
      ...(h.validation === undefined ? {} : { validation: looMetrics(h.validation) }),
    })),
    protocol: 'seq-loo-v1', loss: s.loss, max_epochs: s.maxEpochs, patience: s.patience,
    max_minutes: s.maxMinutes ?? null, stopped: result.stopped, seconds: round(result.seconds, 1),
    ...(result.start === null ? {} : { start_validation: looMetrics(result.start) }),
  };
  return { result, record };
}

/** The human-readable table of a loo compare (`--json` prints the rows instead). */
export function printLooTable(io: CliIO, rows: Record<string, unknown>[]): void {
  const keys = ['variant', 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20', 'best_epoch', 'epochs', 'train_seconds'];
  const cells = [keys, ...rows.map((r) => keys.map((k) => {
    const v = r[k];
    return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) :
      v === undefined || v === null ? '-' : String(v);
  }))];
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  for (const c of cells) io.stdout(`${c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()}\n`);
}
