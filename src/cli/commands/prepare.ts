/**
 * `duet-tf prepare`: interaction data → a duet-seq-v1 split folder (train.txt, test.txt,
 * protocol.json), as `make_duet_data.py` builds it; or, with `--synthetic`, the same files from
 * duet-tf's synthetic data set (no download needed: the end-to-end example starts here).
 */
import * as path from 'node:path';

import { buildDuetSplit } from '../../data/build_duet_split';
import { synthetic } from '../../data/synthetic';
import { writeDuetSplit } from '../../data/duet_split_io';
import { readRatings } from '../../data/read_ratings';
import { readSequenceFile } from '../../data/read_sequence_file';
import { helpText, OptionSpec, parseOptions, UsageError } from '../args';
import { CliIO, printResult } from '../output';

export const PREPARE_OPTIONS: Record<string, OptionSpec> = {
  seq: { type: 'string', help: 'one user per line: "user item item ..." in time order' },
  ratings: { type: 'string', help: 'a ratings table (CSV/TSV): user, item, rating, timestamp' },
  synthetic: { type: 'boolean', help: "duet-tf's synthetic data set instead of a file (see synthetic())" },
  users: { type: 'integer', min: 1, help: "--synthetic: number of users (default: synthetic()'s)" },
  items: { type: 'integer', min: 2, help: "--synthetic: catalogue size (default: synthetic()'s)" },
  clusters: { type: 'integer', min: 1, help: "--synthetic: item clusters, 'genres' (default: synthetic()'s)" },
  out: { type: 'string', required: true, help: 'output folder' },
  'max-len': { type: 'integer', default: 30, min: 1, help: 'click sequence length L' },
  'trigger-len': { type: 'integer', default: 10, min: 1, help: 'trigger sequence length T' },
  'train-neg': { type: 'integer', default: 1, min: 0, help: 'negatives per training positive' },
  'test-neg': { type: 'integer', default: 49, min: 0, help: 'negatives per test positive' },
  'max-test-users': { type: 'integer', default: 5000, min: 1, help: 'largest number of test users' },
  'max-train-rows': { type: 'integer', default: 0, min: 0, help: 'cap on training rows, 0 = all' },
  seed: { type: 'integer', default: 0, help: 'seed of negatives, shuffling and test users' },
  'user-col': { type: 'string', help: 'ratings: user column, a header name or 0-based index (default 0)' },
  'item-col': { type: 'string', help: 'ratings: item column, a header name or 0-based index (default 1)' },
  'time-col': { type: 'string', help: 'ratings: timestamp column, a header name or 0-based index (default 3)' },
  json: { type: 'boolean', help: 'print the result as one JSON line' },
  help: { type: 'boolean', help: 'show this help' },
};

export const PREPARE_SUMMARY =
  'Builds a duet-seq-v1 split (train.txt, test.txt, protocol.json) from interaction data.';

function column(value: string | number | boolean | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  return /^\d+$/.test(text) ? Number(text) : text;
}

export async function prepareCommand(argv: string[], io: CliIO): Promise<number> {
  const o = parseOptions('prepare', argv, PREPARE_OPTIONS);
  if (o.help) {
    io.stdout(`${helpText('prepare', PREPARE_SUMMARY, PREPARE_OPTIONS)}\n`);
    return 0;
  }
  const sources = [o.seq, o.ratings, o.synthetic ? true : undefined].filter((v) => v !== undefined);
  if (sources.length !== 1) {
    throw new UsageError('prepare: give exactly one of --seq FILE, --ratings FILE or --synthetic');
  }
  for (const name of ['users', 'items', 'clusters'] as const) {
    if (o[name] !== undefined && !o.synthetic) throw new UsageError(`prepare: --${name} needs --synthetic`);
  }
  if (o.synthetic) {
    const data = synthetic({
      users: o.users as number | undefined, items: o.items as number | undefined,
      clusters: o.clusters as number | undefined, seed: o.seed as number,
      clickLength: o['max-len'] as number, triggerLength: o['trigger-len'] as number,
      trainNeg: o['train-neg'] as number, testNeg: o['test-neg'] as number,
      maxTestUsers: o['max-test-users'] as number,
      maxTrainRows: o['max-train-rows'] as number,
    });
    await writeDuetSplit(String(o.out), data);
    printResult(io, { out: String(o.out), ...data.protocol }, Boolean(o.json));
    return 0;
  }
  const source = String(o.seq ?? o.ratings);
  const users = o.seq !== undefined ? await readSequenceFile(source) : await readRatings(source, {
    user: column(o['user-col']), item: column(o['item-col']), time: column(o['time-col']),
  });
  const split = buildDuetSplit(users, {
    maxLen: o['max-len'] as number,
    triggerLen: o['trigger-len'] as number,
    trainNeg: o['train-neg'] as number,
    testNeg: o['test-neg'] as number,
    maxTestUsers: o['max-test-users'] as number,
    maxTrainRows: o['max-train-rows'] as number,
    seed: o.seed as number,
    source: path.basename(source),
  });
  await writeDuetSplit(String(o.out), split);
  printResult(io, { out: String(o.out), ...split.protocol }, Boolean(o.json));
  return 0;
}
