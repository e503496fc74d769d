/**
 * `duet-tf train`: trains a reference model (base or DUET) on a split and saves it with its
 * description (`duet-tf.json`), for `duet-tf eval` and `duet-tf serve`.
 *
 * `--variant duet` trains the DUET model from scratch for `--epochs`, as a base run would. With
 * `--duet-from base` it follows the paper's flow instead: a base model is trained first (the same
 * `--epochs`), then its DUET variant is built from it with `duetFromBase` (the generator starts at
 * zero, so the DUET model starts out predicting exactly like the trained base) and trained for
 * `--epochs` more. `--from-base MODEL_DIR` starts that second phase from a saved base model.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import {
  createModel, type CreateModelOptions, type ResolvedConfig,
} from '../../models/create_model';
import { duetFromBase } from '../../models/duet_from_base';
import { type CommandHelp, type OptionSpec, parseOptions, UsageError } from '../args';
import { loadData } from '../data_source';
import {
  modelOptions, parseModelOptions, runSettings, TRAINING_OPTIONS, trainLogged,
} from '../experiment';
import {
  checkOutputFolder, loadBaseModelDir, type ModelInfo, type RecordedRun, saveModelDir,
} from '../model_dir';
import { LOO_OPTIONS, looData } from '../loo/loo_experiment';
import { trainLooCommand } from '../loo/train_loo';
import { openCliCheckpoints } from '../checkpoint_dir';
import { duetFrom, STATIC_OPTION } from '../duet_from';
import { type CliIO, printResult } from '../output';

export const TRAIN_OPTIONS: Record<string, OptionSpec> = {
  ...TRAINING_OPTIONS,
  variant: { type: 'string', default: 'base', choices: ['base', 'duet'], help: 'base model, or DUET' },
  'duet-from': { type: 'string', choices: ['scratch', 'base'], defaultText: 'scratch; base on a seq-loo-v1 folder', help: '--variant duet: train DUET --epochs from scratch, or train a base first (same --epochs) and DUET from it' },
  out: { type: 'string', required: true, help: 'model folder to write (model.json, weights.bin, duet-tf.json); written crash-safe' },
  force: { type: 'boolean', help: 'replace a model already in --out (refused without it); also discards the checkpoint of an interrupted run' },
  'checkpoint-dir': { type: 'string', defaultText: '.NAME.checkpoint beside --out NAME', help: 'folder of the per-epoch checkpoints (written crash-safe after each epoch, removed once the model is saved)' },
  resume: { type: 'boolean', help: 'continue the interrupted run whose checkpoint is in --checkpoint-dir, exactly as if never stopped (same options required; --epochs may grow)' },
  'from-base': { type: 'string', help: '--variant duet: build DUET from this saved base model (its architecture; --model-options may still set generator, dynamicLayers, residual)' },
  ...STATIC_OPTION,
  ...LOO_OPTIONS,
};

export const TRAIN_HELP: CommandHelp = {
  summary: 'Trains a reference model (base or DUET) and saves it with duet-tf.json (and the ' +
    "split's item map, items.tsv, so 'duet-tf serve' speaks your item ids). --variant duet trains " +
    'DUET from scratch; with --duet-from base a base model is trained first (same --epochs) and ' +
    'the DUET model is built from it (duetFromBase) and trained; --from-base MODEL_DIR builds it ' +
    'from a saved base. On a seq-loo-v1 folder (prepare --protocol loo): sequence-level training ' +
    'with early stopping on validation NDCG@10 (--max-epochs, --patience, --max-minutes); the best ' +
    'epoch is saved. There --variant duet builds DUET from the trained base by default (the base trained ' +
    'first, or --from-base MODEL_DIR), its epoch 0 being the base itself, and trains the generator ' +
    'alone (--static frozen); --duet-from scratch trains it untrained.',
  examples: [
    'train --model sasrec --variant duet --data data/mine-loo --max-minutes 30 --out models/loo-duet',
    'train --model sasrec --variant duet --data data/mine --epochs 2 --out models/duet',
    'train --model gru4rec --data synthetic --epochs 1 --out models/base --json',
  ],
};

export async function trainCommand(argv: string[], io: CliIO): Promise<number> {
  if (await looData(argv)) return trainLooCommand(argv, io, TRAIN_OPTIONS);
  const o = parseOptions('train', argv, TRAIN_OPTIONS);
  const looOnly = Object.keys(LOO_OPTIONS).find((name) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)));
  if (looOnly !== undefined) {
    throw new UsageError(`train: --${looOnly} applies to seq-loo-v1 folders (prepare --protocol loo); '${String(o.data)}' is not one`);
  }
  const settings = runSettings('train', o);
  const variant = o.variant as 'base' | 'duet';
  const fromBase = o['from-base'] as string | undefined;
  if (fromBase !== undefined && variant !== 'duet') {
    throw new UsageError('train: --from-base needs --variant duet');
  }
  if (o.static !== undefined && variant !== 'duet') throw new UsageError('train: --static needs --variant duet');
  const { fromBase: fromTrainedBase, freezeStatic } = duetFrom('train', o, 'duet-seq-v1', fromBase !== undefined);
  const json = Boolean(o.json);
  modelOptions('train', o, 1, 1); // bad model options fail before any work
  const backend = await useBackend(o.backend as BackendChoice);
  const data = await loadData('train', String(o.data), o['max-train-rows'] as number);
  checkOutputFolder('train', String(o.out), Boolean(o.force)); // before any training
  const clickLength = data.train.clickLength;
  io.stderr(`train: ${data.train.size} training rows, ${data.numItems} items, backend ${backend}\n`);

  let config = modelOptions('train', o, data.numItems, clickLength);
  const checkpoints = openCliCheckpoints('train', o, {
    protocol: 'duet-seq-v1', data: String(o.data), max_train_rows: o['max-train-rows'], model: config,
    variant, duet_from: fromTrainedBase ? 'base' : 'scratch', from_base: fromBase ?? null,
    ...(freezeStatic ? { freeze_static: true } : {}),
  });
  if (o.resume) io.stderr(`train: resuming from '${checkpoints.root}'\n`);
  if (variant === 'duet' && !fromTrainedBase) {
    const built = createModel({ ...config, variant: 'duet' } as CreateModelOptions);
    const run = (await trainLogged(io, `${config.model} duet`, built.model, data.train, settings, json,
      checkpoints.phase('duet'))).record;
    await saveTrained(io, o, built.model, built.config, { clickLength, data, backend, run, json });
    checkpoints.finish();
    return 0;
  }
  let baseModel;
  let baseRun: ModelInfo['base'];
  if (fromBase !== undefined) {
    const loaded = await loadBaseModelDir('train', fromBase, config.model, { name: String(o.data), items: data.items });
    const saved = loaded.info;
    if (saved.numItems < data.numItems || saved.clickLength !== clickLength) {
      throw new UsageError(`train: --from-base '${fromBase}' was built for ${saved.numItems} ` +
        `items and click length ${saved.clickLength}; the data has ${data.numItems} items and ` +
        `click length ${clickLength}`);
    }
    baseModel = loaded.model;
    // The saved architecture wins; --model-options can still change the DUET side (generator).
    config = { ...saved.config, ...parseModelOptions('train', o) } as ResolvedConfig;
    baseRun = { from: fromBase };
  } else {
    baseModel = createModel(config as CreateModelOptions).model;
    baseRun = (await trainLogged(io, `${config.model} base`, baseModel, data.train, settings, json,
      checkpoints.phase('base'))).record;
  }

  let model = baseModel;
  let run = baseRun as RecordedRun;
  if (variant === 'duet') {
    const duet = duetFromBase(baseModel, config as CreateModelOptions, { freezeStatic });
    for (const w of new Set(baseModel.weights)) w.dispose();
    model = duet.model;
    config = duet.config;
    run = (await trainLogged(io, `${config.model} duet`, model, data.train, settings, json,
      checkpoints.phase('duet'))).record;
    if (freezeStatic) run = { ...run, freeze_static: true };
  }
  await saveTrained(io, o, model, config, {
    clickLength, data, backend, run, json, ...(variant === 'duet' ? { base: baseRun } : {}),
  });
  checkpoints.finish();
  return 0;
}

/** Saves the trained model with its description and prints the result line. */
async function saveTrained(io: CliIO, o: Record<string, unknown>, model: tfl.LayersModel,
    config: ResolvedConfig, fields: {
      clickLength: number; data: Awaited<ReturnType<typeof loadData>>; backend: string;
      run: RecordedRun; json: boolean; base?: ModelInfo['base'];
    }): Promise<void> {
  const { data, run } = fields;
  const info: ModelInfo = {
    format: 'duet-tf-model',
    version: 1,
    config,
    numItems: config.numItems,
    clickLength: fields.clickLength,
    data: {
      source: data.source, train_rows: data.train.size,
      max_train_rows: (o['max-train-rows'] as number) || null,
    },
    backend: fields.backend,
    training: run,
    ...(fields.base === undefined ? {} : { base: fields.base }),
  };
  await saveModelDir(String(o.out), model, info, data.items, { overwrite: Boolean(o.force) });
  const last = info.training.history[info.training.history.length - 1];
  printResult(io, {
    model: config.model, variant: config.variant, backend: fields.backend, epochs: run.epochs,
    best_epoch: info.training.best_epoch, loss: last?.loss ?? null,
    ...(last?.validation === undefined ? {} : { validation: last.validation }),
    train_samples_per_s: info.training.train_samples_per_s, out: String(o.out),
  }, fields.json);
}
