/**
 * `duet-tf train` on a seq-loo-v1 folder: one model (base or DUET, built untrained) trained with
 * sequence-level training and early stopping on validation NDCG@10, saved with its best epoch's
 * weights, its `duet-tf.json` and the folder's item map. The test targets are not read.
 */

import type * as tfl from '@tensorflow/tfjs-layers';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import { createModel, type CreateModelOptions, type ResolvedConfig } from '../../models/create_model';
import { type OptionSpec, type ParsedOptions, parseOptions, UsageError } from '../args';
import { parseModelOptions } from '../experiment';
import { checkOutputFolder, loadBaseModelDir, type ModelInfo, saveModelDir } from '../model_dir';
import { openCliCheckpoints } from '../checkpoint_dir';
import { type CliIO, printResult } from '../output';
import { looDuetFromBase, splitDuetSide } from './duet_from_base_loo';
import { duetFrom } from '../duet_from';
import {
  loadLoo, looMetrics, looModelConfig, type LooSettings, looSettings, refuseOnLoo, trainLooLogged,
} from './loo_experiment';

/** `train` when `--data` is a seq-loo-v1 folder (the options table is train's). */
export async function trainLooCommand(argv: string[], io: CliIO, specs: Record<string, OptionSpec>):
    Promise<number> {
  const command = 'train';
  const o = parseOptions(command, argv, specs);
  refuseOnLoo(command, argv, ['epochs', 'validation-fraction', 'max-train-rows']);
  const variant = o.variant as 'base' | 'duet';
  const fromBase = o['from-base'] as string | undefined;
  if (fromBase !== undefined && variant !== 'duet') throw new UsageError(`${command}: --from-base needs --variant duet`);
  if (o.static !== undefined && variant !== 'duet') throw new UsageError(`${command}: --static needs --variant duet`);
  const how = duetFrom(command, o, 'seq-loo-v1', fromBase !== undefined);
  const duetFromBase = variant === 'duet' && how.fromBase;
  const s = looSettings(command, o, duetFromBase);
  const json = Boolean(o.json);
  const extra = parseModelOptions(command, o);
  const backend = await useBackend(o.backend as BackendChoice);
  const split = await loadLoo(command, String(o.data));
  if (duetFromBase) return trainLooFromBase(command, o, io, s, split, extra, backend, fromBase, how.freezeStatic);
  const config = looModelConfig(command, o, s, split, variant, extra);
  checkOutputFolder(command, String(o.out), Boolean(o.force)); // before any training
  io.stderr(`train: ${config.model} ${variant} on seq-loo-v1 '${String(o.data)}': ${split.numUsers} users, ` +
    `${split.numItems} items, ${split.protocol.train_targets} training targets, loss ${s.loss}, backend ${backend}\n`);
  const checkpoints = openCliCheckpoints(command, o, {
    protocol: 'seq-loo-v1', data: String(o.data), model: config, variant,
  });
  if (o.resume) io.stderr(`train: resuming from '${checkpoints.root}'\n`);
  const { model } = createModel(config as CreateModelOptions);
  const { result, record } = await trainLooLogged(io, `${config.model} ${variant}`, model, split, s, json,
    checkpoints.phase(variant));
  const info: ModelInfo = {
    format: 'duet-tf-model', version: 1, config, numItems: config.numItems, clickLength: config.clickLength,
    data: { source: String(o.data), train_rows: split.protocol.train_targets, max_train_rows: null },
    backend, training: record,
  };
  await saveModelDir(String(o.out), model, info, split.itemMap, { overwrite: Boolean(o.force) });
  checkpoints.finish();
  printResult(io, {
    model: config.model, variant, protocol: 'seq-loo-v1', backend, best_epoch: result.bestEpoch,
    epochs: result.history.length, stopped: result.stopped, train_seconds: record.seconds ?? null,
    ...(result.best === null ? {} : { validation: looMetrics(result.best) }), out: String(o.out),
  }, json);
  return 0;
}

/**
 * `train --variant duet` from a base on a seq-loo-v1 folder: the base loaded (`--from-base DIR`)
 * or trained first (`--duet-from base`, the base phase checkpointed as its own), then the DUET
 * model built from it with `looDuetFromBase` and trained with epoch 0 (the base) validated.
 */
async function trainLooFromBase(command: string, o: ParsedOptions, io: CliIO, s: LooSettings, split: SeqLooSplit,
    extra: Record<string, unknown>, backend: string, fromBase: string | undefined, freeze: boolean): Promise<number> {
  const json = Boolean(o.json);
  let base: tfl.LayersModel;
  let baseConfig: ResolvedConfig;
  let baseRun: ModelInfo['base'];
  const options = splitDuetSide(extra);
  if (fromBase !== undefined) {
    const foreign = Object.keys(options.base)[0];
    if (foreign !== undefined) {
      throw new UsageError(`${command}: --model-options '${foreign}' would change the architecture of the base in ` +
        `'${fromBase}'; with --from-base only generator, dynamicLayers, residual, userAdapter apply`);
    }
    const loaded = await loadBaseModelDir(command, fromBase, String(o.model), { name: String(o.data), items: split.itemMap });
    base = loaded.model;
    baseConfig = loaded.info.config;
    baseRun = { from: fromBase };
  } else {
    baseConfig = looModelConfig(command, o, s, split, 'base', options.base);
    base = createModel(baseConfig as CreateModelOptions).model;
  }
  // Built (a loaded base) or probed (a base still to train) before any training: the DUET side's
  // options fail first, then the output folder.
  let duet: { model: tfl.LayersModel; config: ResolvedConfig } | null =
    looDuetFromBase(command, base, baseConfig, split, options.duet, freeze);
  if (fromBase === undefined) {
    for (const w of new Set(duet.model.weights)) w.dispose();
    duet = null;
  }
  checkOutputFolder(command, String(o.out), Boolean(o.force));
  io.stderr(`train: ${baseConfig.model} duet from ${fromBase === undefined ? 'a base trained first' : `'${fromBase}'`} ` +
    `on seq-loo-v1 '${String(o.data)}': ${split.numUsers} users, ${split.numItems} items, loss ${s.loss}, ` +
    `${freeze ? 'static weights frozen, ' : ''}backend ${backend}\n`);
  const checkpoints = openCliCheckpoints(command, o, {
    protocol: 'seq-loo-v1', data: String(o.data), model: baseConfig, variant: 'duet', duet_from: 'base',
    from_base: fromBase ?? null, model_options: extra, freeze_static: freeze,
  });
  if (o.resume) io.stderr(`train: resuming from '${checkpoints.root}'\n`);
  if (fromBase === undefined) {
    baseRun = (await trainLooLogged(io, `${baseConfig.model} base`, base, split, s, json, checkpoints.phase('base'))).record;
  }
  const { model, config } = duet ?? looDuetFromBase(command, base, baseConfig, split, options.duet, freeze);
  for (const w of new Set(base.weights)) w.dispose();
  const { result, record } = await trainLooLogged(io, `${config.model} duet`, model, split, s, json,
    checkpoints.phase('duet'), true);
  const info: ModelInfo = {
    format: 'duet-tf-model', version: 1, config, numItems: config.numItems, clickLength: config.clickLength,
    data: { source: String(o.data), train_rows: split.protocol.train_targets, max_train_rows: null },
    backend, training: { ...record, freeze_static: freeze }, base: baseRun,
  };
  await saveModelDir(String(o.out), model, info, split.itemMap, { overwrite: Boolean(o.force) });
  checkpoints.finish();
  printResult(io, {
    model: config.model, variant: 'duet', protocol: 'seq-loo-v1', duet_from: 'base', static: freeze ? 'frozen' : 'trained', backend,
    best_epoch: result.bestEpoch, epochs: result.history.length, stopped: result.stopped,
    train_seconds: record.seconds ?? null,
    ...(result.start === null ? {} : { start_validation: looMetrics(result.start) }),
    ...(result.best === null ? {} : { validation: looMetrics(result.best) }), out: String(o.out),
  }, json);
  return 0;
}
