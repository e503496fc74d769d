/**
 * `duet-tf eval --candidates sampled` on a seq-loo-v1 folder: the saved model ranks each user's
 * test (or validation) target among the 99 sampled negatives `compare --model din` uses (same
 * `--candidate-seed`), beside popularity on the same candidates — a like-for-like row for
 * SASRec or GRU4Rec next to DIN, and the S3-Rec paper's sampled table.
 */
import type { SeqLooPart } from '../../data/protocols/seq_loo';
import { SAMPLED_NEGATIVES, sampleLooNegatives } from '../../eval/sampled/sampled_negatives';
import { evaluateSampledRanking, popularitySampled } from '../../eval/sampled/sampled_ranking';
import { type OptionSpec, type ParsedOptions, UsageError } from '../args';
import { loadModelDirFor } from '../model_dir';
import { type CliIO, printResult } from '../output';
import { loadLoo, looMetrics } from './loo_experiment';

/** `eval`'s options for sampled candidates on seq-loo-v1 folders. */
export const EVAL_SAMPLED_OPTIONS: Record<string, OptionSpec> = {
  candidates: { type: 'string', default: 'all', choices: ['all', 'sampled'], help: `seq-loo-v1: rank against the whole catalogue, or the target and ${SAMPLED_NEGATIVES} sampled negatives per user (as compare --model din)` },
  'candidate-seed': { type: 'integer', default: 0, help: 'seq-loo-v1 with --candidates sampled: seed of the sampled negatives' },
};

/** Refuses `--candidate-seed` unless `--candidates sampled` is asked for. */
export function checkCandidateOptions(command: string, argv: readonly string[], o: ParsedOptions, loo: boolean): void {
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!loo && (given('candidates') || given('candidate-seed'))) {
    throw new UsageError(`${command}: --${given('candidates') ? 'candidates' : 'candidate-seed'} applies to seq-loo-v1 ` +
      `folders (prepare --protocol loo); '${String(o.data)}' is not one`);
  }
  if (given('candidate-seed') && o.candidates !== 'sampled') {
    throw new UsageError(`${command}: --candidate-seed applies to --candidates sampled only`);
  }
}

/** `eval --candidates sampled` on a seq-loo-v1 folder, options parsed and the backend chosen. */
export async function evalSampledLooCommand(o: ParsedOptions, io: CliIO, backend: string): Promise<number> {
  const command = 'eval';
  const dir = String(o['model-dir']);
  const part = o.part as SeqLooPart;
  const seed = o['candidate-seed'] as number;
  const split = await loadLoo(command, String(o.data));
  const { model, info } = await loadModelDirFor(command, dir, { name: String(o.data), items: split.itemMap });
  let candidates;
  try {
    candidates = sampleLooNegatives(split, part, { seed });
  } catch (e) {
    throw new Error(`${command}: ${(e as Error).message}`);
  }
  io.stderr(`eval: ${info.config.model} ${info.config.variant} on the ${part} targets of ${split.numUsers} ` +
    `users (seq-loo-v1, each among ${SAMPLED_NEGATIVES} sampled negatives, candidate seed ${seed}), backend ${backend}\n`);
  const report = await evaluateSampledRanking(model, split, candidates);
  printResult(io, {
    model: info.config.model, variant: info.config.variant, protocol: 'seq-loo-v1', part,
    candidates: `${SAMPLED_NEGATIVES}-sampled`, backend, ...looMetrics(report), users: report.users,
    best_epoch: info.training.best_epoch, candidate_seed: seed,
    popularity: looMetrics(popularitySampled(split, candidates)),
  }, Boolean(o.json));
  return 0;
}
