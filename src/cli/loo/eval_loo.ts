/**
 * `duet-tf eval` on a seq-loo-v1 folder: the saved model ranks each user's test target (or, with
 * `--part validation`, the validation target) against the whole catalogue; HR and NDCG at 5, 10,
 * 20, beside the popularity floor.
 */
import type { SeqLooPart } from '../../data/protocols/seq_loo';
import { evaluateFullRanking } from '../../eval/full_ranking/evaluate_full_ranking';
import { popularityRanking } from '../../eval/full_ranking/popularity';
import type { ParsedOptions } from '../args';
import { loadModelDirFor } from '../model_dir';
import { type CliIO, printResult } from '../output';
import { loadLoo, looMetrics } from './loo_experiment';

/** `eval` when `--data` is a seq-loo-v1 folder, with the options already parsed and the backend chosen. */
export async function evalLooCommand(o: ParsedOptions, io: CliIO, backend: string): Promise<number> {
  const command = 'eval';
  const dir = String(o['model-dir']);
  const part = o.part as SeqLooPart;
  const split = await loadLoo(command, String(o.data));
  const { model, info } = await loadModelDirFor(command, dir, { name: String(o.data), items: split.itemMap });
  io.stderr(`eval: ${info.config.model} ${info.config.variant} on the ${part} targets of ${split.numUsers} ` +
    `users (seq-loo-v1, full ranking over ${split.numItems} items), backend ${backend}\n`);
  const report = await evaluateFullRanking(model, split, { part, batchSize: Math.min(o.batch as number, 512) });
  const popularity = popularityRanking(split, part);
  printResult(io, {
    model: info.config.model, variant: info.config.variant, protocol: 'seq-loo-v1', part, backend,
    ...looMetrics(report), users: report.users, best_epoch: info.training.best_epoch,
    popularity: looMetrics(popularity),
  }, Boolean(o.json));
  return 0;
}
