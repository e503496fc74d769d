/**
 * `duet-tf train` on a seq-loo-v1 folder: one model (base or DUET, built untrained) trained with
 * sequence-level training and early stopping on validation NDCG@10, saved with its best epoch's
 * weights, its `duet-tf.json` and the folder's item map. The test targets are not read.
 */
import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { createModel, type CreateModelOptions } from '../../models/create_model';
import { type OptionSpec, parseOptions, UsageError } from '../args';
import { parseModelOptions } from '../experiment';
import { checkOutputFolder, type ModelInfo, saveModelDir } from '../model_dir';
import { openCliCheckpoints } from '../checkpoint_dir';
import { type CliIO, printResult } from '../output';
import { loadLoo, looMetrics, looModelConfig, looSettings, refuseOnLoo, trainLooLogged } from './loo_experiment';

/** `train` when `--data` is a seq-loo-v1 folder (the options table is train's). */
export async function trainLooCommand(argv: string[], io: CliIO, specs: Record<string, OptionSpec>):
    Promise<number> {
  const command = 'train';
  const o = parseOptions(command, argv, specs);
  refuseOnLoo(command, argv, ['epochs', 'validation-fraction', 'max-train-rows']);
  if (o['from-base'] !== undefined || o['duet-from'] === 'base') {
    throw new UsageError(`${command}: on a seq-loo-v1 folder DUET trains from scratch (no --from-base, --duet-from base)`);
  }
  const s = looSettings(command, o);
  const variant = o.variant as 'base' | 'duet';
  const json = Boolean(o.json);
  const extra = parseModelOptions(command, o);
  const backend = await useBackend(o.backend as BackendChoice);
  const split = await loadLoo(command, String(o.data));
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
