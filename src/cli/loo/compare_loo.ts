/**
 * `duet-tf compare` on a seq-loo-v1 folder: base and DUET trained with sequence-level training
 * (early stopping on validation NDCG@10, `--max-minutes` per model), each ranked once on the test
 * targets against the whole catalogue; one JSON line per variant (`hr@5` … `ndcg@20`,
 * `best_epoch`, `epochs`, `train_seconds`) and one `"variant": "popularity"` line, the floor.
 * `--duet-from base`: DUET is built from the trained base of the same run (`looDuetFromBase`)
 * and trained with epoch 0, the base itself, among its candidates (`--static frozen`, the
 * default there: the generator alone trains).
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { evaluateFullRanking } from '../../eval/full_ranking/evaluate_full_ranking';
import { popularityRanking } from '../../eval/full_ranking/popularity';
import { createModel, type CreateModelOptions } from '../../models/create_model';
import { parseOptions, UsageError } from '../args';
import { parseModelOptions, round } from '../experiment';
import { optionalCliCheckpoints } from '../checkpoint_dir';
import { type CliIO, printResult } from '../output';
import {
  loadLoo, looMetrics, looModelConfig, looSettings, printLooTable, refuseOnLoo, trainLooLogged,
} from './loo_experiment';
import type { OptionSpec } from '../args';
import { looDuetFromBase, splitDuetSide } from './duet_from_base_loo';
import { duetFrom } from '../duet_from';

/** `compare` when `--data` is a seq-loo-v1 folder (the options table is compare's). */
export async function compareLooCommand(argv: string[], io: CliIO, specs: Record<string, OptionSpec>):
    Promise<number> {
  const command = 'compare';
  const o = parseOptions(command, argv, specs);
  refuseOnLoo(command, argv, ['epochs', 'validation-fraction', 'max-train-rows',
    'finetune-users', 'finetune-epochs']);
  const { fromBase: duetFromBase, freezeStatic: freeze } = duetFrom(command, o, 'seq-loo-v1');
  const variantsGiven = argv.some((a) => a === '--variants' || a.startsWith('--variants='));
  const wanted = (variantsGiven ? String(o.variants) : 'base,duet').split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (wanted.includes('finetune')) {
    throw new UsageError(`${command}: --variants finetune is not available on a seq-loo-v1 folder (base, duet)`);
  }
  const unknown = wanted.find((v) => v !== 'base' && v !== 'duet');
  if (unknown !== undefined || wanted.length === 0) {
    throw new UsageError(`${command}: --variants must list some of base, duet, got '${String(o.variants)}'`);
  }
  const fromBase = duetFromBase && wanted.includes('duet');
  if (fromBase && !(wanted.includes('base') && wanted.indexOf('base') < wanted.indexOf('duet'))) {
    throw new UsageError(`${command}: DUET is built from the base of this run (--duet-from base, the default on a ` +
      'seq-loo-v1 folder): list base before duet in --variants, or pass --duet-from scratch');
  }
  const s = looSettings(command, o, fromBase);
  const json = Boolean(o.json);
  const extra = parseModelOptions(command, o);
  const backend = await useBackend(o.backend as BackendChoice);
  const split = await loadLoo(command, String(o.data));
  // Bad model options fail before any training.
  // With --duet-from base, --model-options split into the base's architecture and the DUET side.
  const sides = splitDuetSide(extra);
  const configs = Object.fromEntries(wanted.map((v) => [v, looModelConfig(command, o, s, split,
    fromBase ? 'base' : v as 'base' | 'duet', fromBase ? sides.base : extra)]));
  if (fromBase) {
    const probeBase = createModel(configs.base as CreateModelOptions).model;
    const probe = looDuetFromBase(command, probeBase, configs.base, split, sides.duet, freeze);
    for (const w of new Set([...probe.model.weights, ...probeBase.weights])) w.dispose();
    configs.duet = probe.config;
  }
  io.stderr(`compare: ${String(o.model)} on seq-loo-v1 '${String(o.data)}': ${split.numUsers} users, ` +
    `${split.numItems} items, ${split.protocol.train_targets} training targets, L = ${split.protocol.max_len}, ` +
    `loss ${s.loss}, backend ${backend}\n`);
  const checkpoints = optionalCliCheckpoints(command, o, {
    protocol: 'seq-loo-v1', data: String(o.data), model: configs,
    ...(fromBase ? { duet_from: 'base', freeze_static: freeze } : {}),
  });
  const rows: Record<string, unknown>[] = [];
  const emit = (row: Record<string, unknown>) => {
    rows.push(row);
    if (json) printResult(io, row, true);
  };
  let trainedBase: { model: tfl.LayersModel; seconds: number } | null = null;
  for (const variant of wanted) {
    const config = configs[variant];
    const start: { model: tfl.LayersModel; seconds: number } | null = variant === 'duet' ? trainedBase : null;
    const fromTrained = start !== null;
    let model: tfl.LayersModel;
    if (start !== null) {
      model = looDuetFromBase(command, start.model, configs.base, split, sides.duet, freeze).model;
      for (const w of new Set(start.model.weights)) w.dispose();
    } else {
      model = createModel(config as CreateModelOptions).model;
    }
    const { result, record } = await trainLooLogged(io, `${config.model} ${variant}`, model, split, s, json,
      checkpoints?.phase(variant), fromTrained);
    const test = await evaluateFullRanking(model, split, { part: 'test' });
    emit({
      model: config.model, variant, protocol: 'seq-loo-v1', backend, ...looMetrics(test),
      best_epoch: result.bestEpoch, epochs: result.history.length, train_seconds: round(result.seconds, 1),
      stopped: result.stopped, validation: result.best === null ? null : looMetrics(result.best),
      users: test.users, loss: s.loss, batch: s.batch, lr: s.lr, dim: s.dim,
      ...(variant === 'duet' && record.generator_lr !== null ? { generator_lr: record.generator_lr } : {}),
      threads: result.threads, seed: s.seed,
      ...(start !== null ? {
        duet_from: 'base', static: freeze ? 'frozen' : 'trained', base_train_seconds: round(start.seconds, 1),
        ...(result.start === null ? {} : { start_validation: looMetrics(result.start) }),
      } : {}),
      ...(Object.keys(extra).length > 0 ? { model_options: extra } : {}),
    });
    if (fromBase && variant === 'base') {
      trainedBase = { model, seconds: result.seconds }; // DUET starts from it, then frees it
    } else {
      for (const w of new Set(model.weights)) w.dispose();
    }
  }
  const popularity = popularityRanking(split, 'test');
  emit({ model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', ...looMetrics(popularity), users: popularity.users });
  if (!json) printLooTable(io, rows);
  checkpoints?.finish();
  return 0;
}
