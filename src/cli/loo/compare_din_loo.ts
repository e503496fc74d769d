/**
 * `duet-tf compare --model din` on a seq-loo-v1 folder. DIN's target attention scores one
 * (history, item) pair at a time, so ranking all items for every user is out of reach; it is
 * ranked instead on 99 sampled negatives per user (the S3-Rec paper's sampled table): trained
 * with `train` on the split's training positions (one sampled negative each), epochs chosen on
 * the validation targets' own sampled candidates (a seeded subset of users, `--validation-users`),
 * the test targets ranked once at the end. One JSON line per variant and a popularity line on
 * the same candidates, each with `"candidates": "99-sampled"`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import { seqLooTrainingRows } from '../../data/protocols/seq_loo_rows';
import { createRng } from '../../data/rng';
import type { DuetDataset } from '../../data/types';
import type { FullRankingReport } from '../../eval/full_ranking/ranks';
import { type SampledCandidates, SAMPLED_NEGATIVES, sampleLooNegatives } from '../../eval/sampled/sampled_negatives';
import { evaluateSampledRanking, popularitySampled } from '../../eval/sampled/sampled_ranking';
import { ParameterGenerator } from '../../layers/parameter_generator';
import { createModel, type CreateModelOptions, resolveModelOptions, type ResolvedConfig } from '../../models/create_model';
import { train } from '../../train/train';
import { type OptionSpec, type ParsedOptions, parseOptions, UsageError } from '../args';
import { parseModelOptions, round } from '../experiment';
import { type CliIO, printResult } from '../output';
import { loadLoo, looMetrics, type LooSettings, looSettings, printLooTable, refuseOnLoo } from './loo_experiment';

/** The options only `compare --model din` on a seq-loo-v1 folder reads. */
export const DIN_LOO_OPTIONS: Record<string, OptionSpec> = {
  'validation-users': { type: 'integer', default: 2000, min: 0, help: 'seq-loo-v1, --model din: select epochs on a seeded subset of N users\' validation targets (0 = all)' },
  'candidate-seed': { type: 'integer', default: 0, help: 'seq-loo-v1, --model din: seed of the 99 sampled negatives per user (keep it fixed to compare runs)' },
};

/** What the JSON lines call the candidate set. */
const CANDIDATES = `${SAMPLED_NEGATIVES}-sampled`;

/** Refuses the DIN-only options on every other path of `compare`. */
export function refuseDinLooOptions(command: string, argv: readonly string[]): void {
  for (const name of Object.keys(DIN_LOO_OPTIONS)) {
    if (argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) {
      throw new UsageError(`${command}: --${name} applies to --model din on a seq-loo-v1 folder only`);
    }
  }
}

/** The DIN config of a run: `--model-options` over the seq-loo-v1 width, dim and seed. */
function dinConfig(command: string, s: LooSettings, split: SeqLooSplit, variant: 'base' | 'duet',
    extra: Record<string, unknown>): ResolvedConfig {
  const maxLen = split.protocol.max_len;
  const clickLength = extra.clickLength ?? maxLen;
  if (typeof clickLength !== 'number' || !Number.isInteger(clickLength) || clickLength < 1 || clickLength > maxLen) {
    throw new UsageError(`${command}: --model-options clickLength must be an integer in 1..${maxLen} ` +
      `(the split's max_len), got ${String(clickLength)}`);
  }
  try {
    return resolveModelOptions({
      ...extra, model: 'din', numItems: split.numItems, clickLength, dim: s.dim, seed: s.seed, variant,
    } as CreateModelOptions, command);
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

/** A seeded, ascending subset of `count` of the users 1..numUsers (all of them when count is 0). */
function validationUsers(numUsers: number, count: number, seed: number): Int32Array {
  const all = Int32Array.from({ length: numUsers }, (_, i) => i + 1);
  if (count === 0 || count >= numUsers) return all;
  const rng = createRng(seed);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(numUsers - i);
    const t = all[i]; all[i] = all[j]; all[j] = t;
  }
  return all.slice(0, count).sort();
}

/** What one DIN training run gives back. */
interface DinRun {
  bestEpoch: number;
  best: FullRankingReport | null;
  epochs: number;
  stopped: 'max-epochs' | 'patience' | 'time';
  seconds: number;
  threads: number;
  generatorLr: number | undefined;
}

/**
 * Trains `model` with `train` on `rows`, after each epoch ranking the validation targets of
 * `users` among their sampled candidates; stops on `--patience`, `--max-minutes` (training and
 * validation together, an epoch in progress is dropped) or `--max-epochs`, and ends with the
 * weights of the best epoch by validation NDCG@10.
 */
async function trainDin(io: CliIO, label: string, model: tfl.LayersModel, rows: DuetDataset, split: SeqLooSplit,
    validation: SampledCandidates, users: Int32Array, s: LooSettings, quiet: boolean): Promise<DinRun> {
  const started = performance.now();
  const controller = new AbortController();
  let stopped: DinRun['stopped'] = 'max-epochs';
  const timer = s.maxMinutes === undefined ? undefined : setTimeout(() => {
    if (!controller.signal.aborted) { stopped = 'time'; controller.abort(); }
  }, s.maxMinutes * 60_000);
  let best: { epoch: number; report: FullRankingReport; weights: tf.Tensor[] } | null = null;
  let sinceBest = 0;
  const generatorLr = model.layers.some((l) => l instanceof ParameterGenerator) ? s.generatorLr : undefined;
  try {
    const result = await train(model, { train: rows }, {
      epochs: s.maxEpochs, batchSize: s.batch, learningRate: s.lr, generatorLearningRate: generatorLr,
      clipNorm: s.clipNorm, seed: s.seed, threads: s.threads, progress: io.isTTY && !quiet,
      signal: controller.signal,
      onEpoch: async (log) => {
        const validationStart = performance.now();
        const report = await evaluateSampledRanking(model, split, validation, { users });
        const validationSeconds = (performance.now() - validationStart) / 1000;
        io.stderr(`${label}: epoch ${log.epoch} loss ${log.loss.toFixed(4)} validation ndcg@10 ` +
          `${report['ndcg@10'].toFixed(4)} hr@10 ${report['hr@10'].toFixed(4)} (${log.seconds.toFixed(1)} s + ` +
          `${validationSeconds.toFixed(1)} s validation, ${Math.round(log.samplesPerSecond)} rows/s, ` +
          `${log.threads} thread${log.threads === 1 ? '' : 's'})\n`);
        if (best === null || report['ndcg@10'] > best.report['ndcg@10']) {
          if (best !== null) tf.dispose(best.weights);
          best = { epoch: log.epoch, report, weights: model.getWeights().map((w) => tf.clone(w)) };
          sinceBest = 0;
        } else if (++sinceBest >= s.patience && !controller.signal.aborted) {
          stopped = 'patience';
          controller.abort();
        }
      },
    });
    const kept = best as { epoch: number; report: FullRankingReport; weights: tf.Tensor[] } | null;
    if (kept !== null) model.setWeights(kept.weights);
    return {
      bestEpoch: kept?.epoch ?? 0, best: kept?.report ?? null, epochs: result.history.length, stopped,
      seconds: (performance.now() - started) / 1000, threads: result.threads, generatorLr,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    const kept = best as { weights: tf.Tensor[] } | null;
    if (kept !== null) tf.dispose(kept.weights);
  }
}

/** The human-readable table of a DIN compare: the loo table, saying what was ranked. */
function printTable(io: CliIO, rows: Record<string, unknown>[]): void {
  io.stdout(`candidates: the target and ${SAMPLED_NEGATIVES} sampled negatives per user\n`);
  printLooTable(io, rows);
}

/** `compare --model din` when `--data` is a seq-loo-v1 folder (the options table is compare's). */
export async function compareDinLooCommand(argv: string[], io: CliIO, specs: Record<string, OptionSpec>):
    Promise<number> {
  const command = 'compare';
  const o: ParsedOptions = parseOptions(command, argv, specs);
  refuseOnLoo(command, argv, ['epochs', 'validation-fraction', 'max-train-rows', 'duet-from', 'static',
    'finetune-users', 'finetune-epochs', 'checkpoint-dir', 'resume']);
  if (argv.some((a) => a === '--loss' || a.startsWith('--loss='))) {
    throw new UsageError(`${command}: --loss does not apply to --model din (pointwise BCE, one sampled ` +
      'negative per training position)');
  }
  const s = looSettings(command, o);
  const variantsGiven = argv.some((a) => a === '--variants' || a.startsWith('--variants='));
  const wanted = (variantsGiven ? String(o.variants) : 'base,duet').split(',').map((v) => v.trim()).filter((v) => v !== '');
  const unknown = wanted.find((v) => v !== 'base' && v !== 'duet');
  if (unknown !== undefined || wanted.length === 0) {
    throw new UsageError(`${command}: --variants must list some of base, duet for --model din on a ` +
      `seq-loo-v1 folder, got '${String(o.variants)}'`);
  }
  const json = Boolean(o.json);
  const extra = parseModelOptions(command, o);
  const backend = await useBackend(o.backend as BackendChoice);
  const split = await loadLoo(command, String(o.data));
  const configs = Object.fromEntries(wanted.map((v) => [v, dinConfig(command, s, split, v as 'base' | 'duet', extra)]));
  const candidateSeed = o['candidate-seed'] as number;
  let validation: SampledCandidates;
  let test: SampledCandidates;
  try {
    validation = sampleLooNegatives(split, 'validation', { seed: candidateSeed });
    test = sampleLooNegatives(split, 'test', { seed: candidateSeed });
  } catch (e) {
    throw new Error(`${command}: ${(e as Error).message}`);
  }
  const users = validationUsers(split.numUsers, o['validation-users'] as number, candidateSeed);
  const clickLength = (configs[wanted[0]] as { clickLength: number }).clickLength;
  const rows = seqLooTrainingRows(split, { clickLength, negatives: 1, seed: s.seed });
  io.stderr(`compare: din on seq-loo-v1 '${String(o.data)}' ranked on ${CANDIDATES} candidates: ` +
    `${split.numUsers} users, ${split.numItems} items, ${rows.size} training rows (${split.protocol.train_targets} ` +
    `positives, one sampled negative each), history ${clickLength}, validation on ${users.length} users, ` +
    `backend ${backend}\n`);
  const emitted: Record<string, unknown>[] = [];
  const emit = (row: Record<string, unknown>) => {
    emitted.push(row);
    if (json) printResult(io, row, true);
  };
  for (const variant of wanted) {
    const config = configs[variant];
    const { model } = createModel(config as CreateModelOptions);
    const run = await trainDin(io, `din ${variant}`, model, rows, split, validation, users, s, json);
    const report = await evaluateSampledRanking(model, split, test);
    emit({
      model: 'din', variant, protocol: 'seq-loo-v1', candidates: CANDIDATES, backend, ...looMetrics(report),
      best_epoch: run.bestEpoch, epochs: run.epochs, train_seconds: round(run.seconds, 1), stopped: run.stopped,
      validation: run.best === null ? null : looMetrics(run.best), validation_users: users.length,
      users: report.users, loss: 'bce', batch: s.batch, lr: s.lr, dim: s.dim, click_length: clickLength,
      ...(variant === 'duet' && run.generatorLr !== undefined ? { generator_lr: run.generatorLr } : {}),
      threads: run.threads, seed: s.seed, candidate_seed: candidateSeed,
      ...(Object.keys(extra).length > 0 ? { model_options: extra } : {}),
    });
    for (const w of new Set(model.weights)) w.dispose();
  }
  const popularity = popularitySampled(split, test);
  emit({
    model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', candidates: CANDIDATES,
    ...looMetrics(popularity), users: popularity.users, candidate_seed: candidateSeed,
  });
  if (!json) printTable(io, emitted);
  return 0;
}
