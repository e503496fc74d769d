/**
 * `duet-tf compare`: the DUET paper's experiment on one split and one architecture: the shared
 * model (base), the per-user fine-tune baseline, and DUET, one result line each.
 *
 * - base: trained `--epochs` on the training rows, evaluated on the test rows.
 * - finetune: for each test user, a copy of the trained base takes `--finetune-epochs` over that
 *   user's own training rows, then scores their test rows (`finetune`); `adapt_ms_per_user` is
 *   the mean fine-tune time per user. `--finetune-users N` evaluates a seeded subset of N users.
 * - duet: built untrained and trained `--epochs` in all, the same number of passes as base (the
 *   default, `--duet-from scratch`: the fair comparison), or with `--duet-from base` built from
 *   the trained base with `duetFromBase` and trained `--epochs` more (the paper's flow, which
 *   gives DUET twice the passes); `adapt_ms_per_user` is the generator's time per user, measured by running the
 *   generator part from `splitDuet` on each test user's click sequence, one user per call
 *   (batch 1); `adapt_ms_per_user_batched` is the same over batches of 256 users.
 */
import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { evaluateModel } from '../../eval/evaluate_model';
import { createModel, type CreateModelOptions } from '../../models/create_model';
import { duetFromBase } from '../../models/duet_from_base';
import { finetune } from '../../train/finetune';
import { type CommandHelp, type OptionSpec, parseOptions, UsageError } from '../args';
import { loadData } from '../data_source';
import {
  modelOptions, parseModelOptions, resultRow, runSettings, timeGeneration, TRAINING_OPTIONS, trainLogged,
} from '../experiment';
import { compareDinLooCommand, DIN_LOO_OPTIONS, refuseDinLooOptions } from '../loo/compare_din_loo';
import { compareLooCommand } from '../loo/compare_loo';
import { LOO_OPTIONS, looData } from '../loo/loo_experiment';
import { CHECKPOINT_OPTIONS, optionalCliCheckpoints } from '../checkpoint_dir';
import { duetFrom, STATIC_OPTION } from '../duet_from';
import { type CliIO, printResult } from '../output';

export const COMPARE_OPTIONS: Record<string, OptionSpec> = {
  ...TRAINING_OPTIONS,
  variants: { type: 'string', default: 'base,finetune,duet', help: 'which results to produce, comma-separated' },
  'finetune-users': { type: 'integer', default: 0, min: 0, help: 'fine-tune a seeded subset of N test users, 0 = all' },
  'finetune-epochs': { type: 'integer', default: 1, min: 1, help: "passes over each user's own rows" },
  'duet-from': { type: 'string', choices: ['scratch', 'base'], defaultText: 'scratch; base on a seq-loo-v1 folder', help: 'DUET trains --epochs from scratch (as many passes as base), or starts from the trained base and trains --epochs more' },
  ...STATIC_OPTION,
  ...LOO_OPTIONS,
  ...DIN_LOO_OPTIONS,
  ...CHECKPOINT_OPTIONS,
};

export const COMPARE_HELP: CommandHelp = {
  summary: 'Trains and evaluates base, per-user fine-tune and DUET for one architecture (DUET ' +
    'trains --epochs from scratch, as base does; with --duet-from base it starts from the trained ' +
    'base and trains --epochs more); prints one result per variant (a JSON line each with --json). ' +
    'On a seq-loo-v1 folder (prepare --protocol loo): base and DUET (default --variants base,duet) ' +
    'with sequence-level training, early stopping on validation NDCG@10 (--max-epochs, --patience, ' +
    '--max-minutes per model), full ranking of the test targets, and a popularity row; DUET is built ' +
    'there from the trained base of the run (--duet-from base, --static frozen: only its generator ' +
    'trains, epoch 0 is the base itself); --model din ' +
    'is ranked there on 99 sampled negatives per user instead ("candidates": "99-sampled").',
  examples: [
    'compare --model sasrec --data data/mine --epochs 1',
    'compare --model sasrec --data data/mine-loo --max-minutes 30 --json',
    'compare --model din --data data/mine-loo --max-minutes 10 --json',
    'compare --model gru4rec --data synthetic --epochs 2 --variants base,duet --json',
  ],
};

const VARIANTS = ['base', 'finetune', 'duet'];

/** Prints `rows` as an aligned table (the human-readable form of `compare`). */
function printTable(io: CliIO, rows: Record<string, unknown>[]): void {
  const keys = ['variant', 'auc', 'uauc', 'logloss', 'ndcg@10', 'hr@10', 'adapt_ms_per_user'];
  const cells = [keys, ...rows.map((r) => keys.map((k) => {
    const v = r[k];
    return typeof v === 'number' ? (k === 'adapt_ms_per_user' ? v.toFixed(2) : v.toFixed(4)) :
      v === undefined || v === null ? '-' : String(v);
  }))];
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  for (const c of cells) io.stdout(`${c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()}\n`);
}

export async function compareCommand(argv: string[], io: CliIO): Promise<number> {
  if (await looData(argv)) {
    // DIN cannot rank the whole catalogue: it is ranked on 99 sampled negatives per user.
    if (parseOptions('compare', argv, COMPARE_OPTIONS).model === 'din') return compareDinLooCommand(argv, io, COMPARE_OPTIONS);
    refuseDinLooOptions('compare', argv);
    return compareLooCommand(argv, io, COMPARE_OPTIONS);
  }
  const o = parseOptions('compare', argv, COMPARE_OPTIONS);
  refuseDinLooOptions('compare', argv);
  const looOnly = Object.keys(LOO_OPTIONS).find((name) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)));
  if (looOnly !== undefined) {
    throw new UsageError(`compare: --${looOnly} applies to seq-loo-v1 folders (prepare --protocol loo); '${String(o.data)}' is not one`);
  }
  const settings = runSettings('compare', o);
  const wanted = String(o.variants).split(',').map((v) => v.trim()).filter((v) => v !== '');
  const unknown = wanted.find((v) => !VARIANTS.includes(v));
  if (unknown !== undefined || wanted.length === 0) {
    throw new UsageError(`compare: --variants must list some of ${VARIANTS.join(', ')}, got ` +
      `'${String(o.variants)}'`);
  }
  const json = Boolean(o.json);
  const extraOptions = parseModelOptions('compare', o);
  modelOptions('compare', o, 1, 1, extraOptions); // bad model options fail before any work
  const backend = await useBackend(o.backend as BackendChoice);
  const data = await loadData('compare', String(o.data), o['max-train-rows'] as number);
  const config = modelOptions('compare', o, data.numItems, data.train.clickLength, extraOptions);
  io.stderr(`compare: ${config.model} on ${data.train.size} training rows, ${data.test.size} test ` +
    `rows, ${data.numItems} items, backend ${backend}\n`);
  const results: Record<string, unknown>[] = [];
  const emit = (row: Record<string, unknown>) => {
    // Runs repeated over seeds or settings stay traceable from their rows alone.
    row.seed = settings.seed;
    if (Object.keys(extraOptions).length > 0) row.model_options = extraOptions;
    if (row.variant === 'duet' && settings.generatorLr !== undefined) row.generator_lr = settings.generatorLr;
    results.push(row);
    if (json) printResult(io, row, true);
  };
  const common = { model: config.model, backend, epochs: settings.epochs };

  const { fromBase, freezeStatic } = duetFrom('compare', o, 'duet-seq-v1');
  const checkpoints = optionalCliCheckpoints('compare', o, {
    protocol: 'duet-seq-v1', data: String(o.data), max_train_rows: o['max-train-rows'], model: config,
    duet_from: fromBase ? 'base' : 'scratch', ...(freezeStatic ? { freeze_static: true } : {}),
  });
  const phase = (name: string) => checkpoints?.phase(name);
  // A DUET-only run from scratch needs no base model: it is trained only when something reads it.
  const needsBase = wanted.includes('base') || wanted.includes('finetune') || fromBase;
  const base = needsBase ? createModel(config as CreateModelOptions).model : null;
  const baseRun = base === null ? null :
    await trainLogged(io, `${config.model} base`, base, data.train, settings, json, phase('base'));
  const trainRate = baseRun?.result.trainSamplesPerSecond ?? null;
  if (base !== null && baseRun !== null && wanted.includes('base')) {
    const report = await evaluateModel(base, data.test, { batchSize: settings.batch });
    emit(resultRow({
      ...common, variant: 'base', report, trainSamplesPerSecond: trainRate,
      inferSamplesPerSecond: report.inferSamplesPerSecond,
      extra: { best_epoch: baseRun.result.bestEpoch, users: report.users },
    }));
  }
  if (base !== null && baseRun !== null && wanted.includes('finetune')) {
    const maxUsers = (o['finetune-users'] as number) || undefined;
    io.stderr(`${config.model} finetune: fine-tuning a copy per test user` +
      `${maxUsers === undefined ? '' : ` (${maxUsers} users)`}\n`);
    const { report } = await finetune(base, { train: data.train, test: data.test }, {
      epochs: o['finetune-epochs'] as number, batchSize: settings.batch, learningRate: settings.lr,
      clipNorm: settings.clipNorm, seed: settings.seed, maxUsers, progress: io.isTTY && !json,
    });
    // Each user is scored by their own copy: no batched inference speed to report.
    emit(resultRow({
      ...common, variant: 'finetune', report, trainSamplesPerSecond: trainRate,
      inferSamplesPerSecond: null, adaptMsPerUser: report.adaptMsPerUser,
      extra: { best_epoch: baseRun.result.bestEpoch, users: report.users },
    }));
  }
  if (wanted.includes('duet')) {
    const duet = !fromBase || base === null ?
      createModel({ ...config, variant: 'duet' } as CreateModelOptions).model :
      duetFromBase(base, config as CreateModelOptions, { freezeStatic }).model;
    const duetRun = await trainLogged(io, `${config.model} duet`, duet, data.train, settings, json, phase('duet'));
    const report = await evaluateModel(duet, data.test, { batchSize: settings.batch });
    const timing = await timeGeneration(duet, data.test);
    emit(resultRow({
      ...common, variant: 'duet', report, trainSamplesPerSecond: duetRun.result.trainSamplesPerSecond,
      inferSamplesPerSecond: report.inferSamplesPerSecond, adaptMsPerUser: timing.msPerUser,
      extra: {
        adapt_ms_per_user_batched: Math.round(timing.msPerUserBatched * 1000) / 1000,
        adapt_batch: 1, best_epoch: duetRun.result.bestEpoch, users: report.users,
        duet_from: fromBase ? 'base' : 'scratch', ...(fromBase ? { static: freezeStatic ? 'frozen' : 'trained' } : {}),
      },
    }));
  }
  if (!json) printTable(io, results);
  checkpoints?.finish();
  return 0;
}
