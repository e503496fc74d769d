/**
 * `duet-tf eval`: scores a split's test rows with a model saved by `duet-tf train` and prints the
 * ranking metrics.
 */
import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { evaluateModel } from '../../eval/evaluate_model';
import { type CommandHelp, type OptionSpec, parseOptions, UsageError } from '../args';
import { loadData } from '../data_source';
import { resultRow } from '../experiment';
import { loadModelDirFor, readModelInfo } from '../model_dir';
import { evalLooCommand } from '../loo/eval_loo';
import { checkCandidateOptions, EVAL_SAMPLED_OPTIONS, evalSampledLooCommand } from '../loo/eval_sampled_loo';
import { looData } from '../loo/loo_experiment';
import { type CliIO, printResult } from '../output';

export const EVAL_OPTIONS: Record<string, OptionSpec> = {
  'model-dir': { type: 'string', required: true, help: "a model folder written by 'duet-tf train'" },
  data: { type: 'string', required: true, help: "split folder (its test.txt is scored) or 'synthetic'" },
  batch: { type: 'integer', default: 1024, min: 1, help: 'rows per forward pass (seq-loo-v1: users, at most 512)' },
  part: { type: 'string', default: 'test', choices: ['test', 'validation'], help: 'seq-loo-v1: which held-out target to rank' },
  ...EVAL_SAMPLED_OPTIONS,
  backend: { type: 'string', default: 'auto', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], help: 'TensorFlow.js backend' },
  json: { type: 'boolean', help: 'print the result as one JSON line' },
};

export const EVAL_HELP: CommandHelp = {
  summary: "Evaluates a model saved by 'duet-tf train' on a split's test rows (AUC, UAUC, " +
    'logloss, NDCG@K and HR@K for K = 5, 10, 20). On a seq-loo-v1 folder: each user\'s test target ' +
    'ranked against the whole catalogue (HR@K, NDCG@K), with the popularity floor; with --candidates ' +
    'sampled, among 99 sampled negatives per user instead (the candidates of compare --model din).',
  examples: ['eval --model-dir models/duet --data data/mine', 'eval --model-dir models/duet --data data/mine --json',
    'eval --model-dir models/loo-duet --data data/mine-loo',
    'eval --model-dir models/loo-duet --data data/mine-loo --candidates sampled'],
};

export async function evalCommand(argv: string[], io: CliIO): Promise<number> {
  const o = parseOptions('eval', argv, EVAL_OPTIONS);
  const dir = String(o['model-dir']);
  readModelInfo('eval', dir); // a clear error before choosing a backend or reading data
  const backend = await useBackend(o.backend as BackendChoice);
  const loo = await looData(argv);
  checkCandidateOptions('eval', argv, o, loo);
  if (loo) return o.candidates === 'sampled' ? evalSampledLooCommand(o, io, backend) : evalLooCommand(o, io, backend);
  if (argv.some((a) => a === '--part' || a.startsWith('--part='))) {
    throw new UsageError(`eval: --part applies to seq-loo-v1 folders (prepare --protocol loo); '${String(o.data)}' is not one`);
  }
  const data = await loadData('eval', String(o.data));
  const { model, info } = await loadModelDirFor('eval', dir, { name: String(o.data), items: data.items });
  if (data.test.clickLength !== info.clickLength) {
    throw new UsageError(`eval: the model in '${dir}' reads click sequences of length ` +
      `${info.clickLength}, the test data has ${data.test.clickLength}`);
  }
  if (data.test.numItems > info.numItems) {
    throw new UsageError(`eval: the test data has item ids up to ${data.test.numItems}, but the ` +
      `model in '${dir}' knows ${info.numItems} items: it was trained on other data`);
  }
  io.stderr(`eval: ${info.config.model} ${info.config.variant} on ${data.test.size} test rows, ` +
    `backend ${backend}\n`);
  const report = await evaluateModel(model, data.test, { batchSize: o.batch as number });
  printResult(io, resultRow({
    model: info.config.model, variant: info.config.variant, backend,
    epochs: info.training.epochs, report, trainSamplesPerSecond: info.training.train_samples_per_s,
    inferSamplesPerSecond: report.inferSamplesPerSecond,
    extra: { users: report.users, rows: report.rows },
  }), Boolean(o.json));
  return 0;
}
