/**
 * `duet-tf compare` on a seq-loo-v1 folder: base and DUET trained with sequence-level training
 * (early stopping on validation NDCG@10, `--max-minutes` per model), each ranked once on the test
 * targets against the whole catalogue; one JSON line per variant (`hr@5` … `ndcg@20`,
 * `best_epoch`, `epochs`, `train_seconds`) and one `"variant": "popularity"` line, the floor.
 */
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

/** `compare` when `--data` is a seq-loo-v1 folder (the options table is compare's). */
export async function compareLooCommand(argv: string[], io: CliIO, specs: Record<string, OptionSpec>):
    Promise<number> {
  const command = 'compare';
  const o = parseOptions(command, argv, specs);
  refuseOnLoo(command, argv, ['epochs', 'validation-fraction', 'max-train-rows', 'duet-from',
    'finetune-users', 'finetune-epochs']);
  const s = looSettings(command, o);
  const variantsGiven = argv.some((a) => a === '--variants' || a.startsWith('--variants='));
  const wanted = (variantsGiven ? String(o.variants) : 'base,duet').split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (wanted.includes('finetune')) {
    throw new UsageError(`${command}: --variants finetune is not available on a seq-loo-v1 folder (base, duet)`);
  }
  const unknown = wanted.find((v) => v !== 'base' && v !== 'duet');
  if (unknown !== undefined || wanted.length === 0) {
    throw new UsageError(`${command}: --variants must list some of base, duet, got '${String(o.variants)}'`);
  }
  const json = Boolean(o.json);
  const extra = parseModelOptions(command, o);
  const backend = await useBackend(o.backend as BackendChoice);
  const split = await loadLoo(command, String(o.data));
  // Bad model options fail before any training.
  const configs = Object.fromEntries(wanted.map((v) => [v, looModelConfig(command, o, s, split, v as 'base' | 'duet', extra)]));
  io.stderr(`compare: ${String(o.model)} on seq-loo-v1 '${String(o.data)}': ${split.numUsers} users, ` +
    `${split.numItems} items, ${split.protocol.train_targets} training targets, L = ${split.protocol.max_len}, ` +
    `loss ${s.loss}, backend ${backend}\n`);
  const checkpoints = optionalCliCheckpoints(command, o, {
    protocol: 'seq-loo-v1', data: String(o.data), model: configs,
  });
  const rows: Record<string, unknown>[] = [];
  const emit = (row: Record<string, unknown>) => {
    rows.push(row);
    if (json) printResult(io, row, true);
  };
  for (const variant of wanted) {
    const config = configs[variant];
    const { model } = createModel(config as CreateModelOptions);
    const { result, record } = await trainLooLogged(io, `${config.model} ${variant}`, model, split, s, json,
      checkpoints?.phase(variant));
    const test = await evaluateFullRanking(model, split, { part: 'test' });
    emit({
      model: config.model, variant, protocol: 'seq-loo-v1', backend, ...looMetrics(test),
      best_epoch: result.bestEpoch, epochs: result.history.length, train_seconds: round(result.seconds, 1),
      stopped: result.stopped, validation: result.best === null ? null : looMetrics(result.best),
      users: test.users, loss: s.loss, batch: s.batch, lr: s.lr, dim: s.dim,
      ...(variant === 'duet' && record.generator_lr !== null ? { generator_lr: record.generator_lr } : {}),
      threads: result.threads, seed: s.seed,
      ...(Object.keys(extra).length > 0 ? { model_options: extra } : {}),
    });
    for (const w of new Set(model.weights)) w.dispose();
  }
  const popularity = popularityRanking(split, 'test');
  emit({ model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', ...looMetrics(popularity), users: popularity.users });
  if (!json) printLooTable(io, rows);
  checkpoints?.finish();
  return 0;
}
