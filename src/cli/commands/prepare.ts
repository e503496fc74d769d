/**
 * `duet-tf prepare`: interaction data → a duet-seq-v1 split folder (train.txt, test.txt,
 * protocol.json, and the id maps items.tsv / users.tsv), as `make_duet_data.py` builds it; or, with `--synthetic`, the same files from
 * duet-tf's synthetic data set (no download needed: the end-to-end example starts here).
 */
import * as path from 'node:path';

import { buildDuetSplit } from '../../data/build_duet_split';
import { writeDuetSplit } from '../../data/duet_split_io';
import { IdMap } from '../../data/id_map';
import { buildSeqLooSplit } from '../../data/protocols/seq_loo';
import { writeSeqLooSplit } from '../../data/protocols/seq_loo_io';
import { type RatingsSummary, readRatingsTable } from '../../data/read_ratings';
import { readSequenceFile } from '../../data/read_sequence_file';
import { synthetic } from '../../data/synthetic';
import type { DuetSplit, UserSequence } from '../../data/types';
import { type CommandHelp, type OptionSpec, parseOptions, UsageError } from '../args';
import { CliIO, printResult } from '../output';

export const PREPARE_OPTIONS: Record<string, OptionSpec> = {
  seq: { type: 'string', help: 'one user per line: "user item item ..." in time order' },
  ratings: { type: 'string', help: 'a ratings table (CSV/TSV): user, item, rating, timestamp' },
  synthetic: { type: 'boolean', help: "duet-tf's synthetic data set instead of a file (see synthetic())" },
  users: { type: 'integer', min: 1, defaultText: "synthetic()'s", help: '--synthetic: number of users' },
  items: { type: 'integer', min: 2, defaultText: "synthetic()'s", help: '--synthetic: catalogue size' },
  clusters: { type: 'integer', min: 1, defaultText: "synthetic()'s", help: "--synthetic: item clusters, 'genres'" },
  out: { type: 'string', required: true, help: 'output folder' },
  protocol: { type: 'string', default: 'duet', choices: ['duet', 'loo'], help: "the split: 'duet' (duet-seq-v1: sampled negatives, the DUET paper's) or 'loo' (seq-loo-v1: leave-one-out, ranked against the whole catalogue, as SASRec and its successors report; one sequences.txt, --seq or --ratings)" },
  'max-len': { type: 'integer', min: 1, defaultText: '30; 50 with --protocol loo', help: 'click sequence length L (the history a model reads)' },
  'trigger-len': { type: 'integer', default: 10, min: 1, help: 'trigger sequence length T' },
  'train-neg': { type: 'integer', default: 1, min: 0, help: 'negatives per training positive' },
  'test-neg': { type: 'integer', default: 49, min: 0, help: 'negatives per test positive' },
  'max-test-users': { type: 'integer', default: 5000, min: 1, help: 'largest number of test users' },
  'max-train-rows': { type: 'integer', default: 0, min: 0, help: 'cap on training rows, 0 = all' },
  seed: { type: 'integer', default: 0, help: 'seed of negatives, shuffling and test users' },
  'user-col': { type: 'string', default: '0', help: 'ratings: user column, a header name or 0-based index' },
  'item-col': { type: 'string', default: '1', help: 'ratings: item column, a header name or 0-based index' },
  'time-col': { type: 'string', default: '3', help: 'ratings: timestamp column, a header name or 0-based index' },
  'rating-col': { type: 'string', defaultText: "the header's 'rating' column; without a header, column 2", help: "ratings: rating column, a header name, 0-based index, or 'none'" },
  'min-rating': { type: 'string', default: 'auto', help: "ratings: positives are the rows rated at least this; the others are dropped. 'auto': 0.8 x the largest rating when ratings vary (4 of 5 stars), else every row; 'none': every row" },
  json: { type: 'boolean', help: 'print the result as one JSON line' },
};

export const PREPARE_HELP: CommandHelp = {
  summary: 'Builds a duet-seq-v1 split (train.txt, test.txt, protocol.json) from interaction ' +
    'data (with --protocol loo a seq-loo-v1 folder: sequences.txt, protocol.json, the id maps) ' +
    'data, with the id maps items.tsv and users.tsv (your ids <-> the indices 1..N the model ' +
    'uses). Ratings tables: rows rated below --min-rating are dropped (default: 4 of 5 stars on ' +
    'an explicit-feedback table; tables without varying ratings keep every row).',
  examples: [
    'prepare --ratings my-ratings.csv --out data/mine',
    'prepare --ratings events.tsv --user-col visitor --item-col sku --time-col ts --rating-col none --out data/events',
    'prepare --seq sequences.txt --out data/seq',
    'prepare --protocol loo --seq sequences.txt --out data/seq-loo',
    'prepare --synthetic --users 300 --items 120 --out data/demo',
  ],
};

/**
 * Below these a model learns next to nothing: training positives per item (each item's
 * embedding sees that many positives on average) and training positives in all. The raw Amazon
 * sample of ../shared/data (0.8 per item, 264 in all) trains to chance; MovieLens (7.5 per item
 * with ratings >= 4) and Beauty (12.7) do not.
 */
const MIN_POSITIVES_PER_ITEM = 2;
const MIN_POSITIVES = 1000;

function column(value: string | number | boolean | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** `--min-rating`: a number, 'auto' or 'none'. */
function minRatingOf(value: string): number | 'auto' | null {
  if (value === 'auto') return 'auto';
  if (value === 'none') return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`prepare: --min-rating must be a number, 'auto' or 'none', got '${value}'`);
  }
  return n;
}

/** One line on stderr when the training set is too small for a model to learn from. */
function warnIfTiny(io: CliIO, split: DuetSplit): void {
  const p = split.protocol;
  const positives = Math.round(p.train_rows / (1 + p.train_neg));
  const perItem = p.items > 0 ? positives / p.items : 0;
  if (perItem >= MIN_POSITIVES_PER_ITEM && positives >= MIN_POSITIVES) return;
  io.stderr(`prepare: warning: the training set is too small to learn from: ${p.users} users, ` +
    `${p.train_rows} training rows, ${positives} positives for ${p.items} items ` +
    `(${perItem.toFixed(1)} per item; a model needs at least ${MIN_POSITIVES} positives and ` +
    `${MIN_POSITIVES_PER_ITEM} per item to do better than chance): use more data\n`);
}

export async function prepareCommand(argv: string[], io: CliIO): Promise<number> {
  const o = parseOptions('prepare', argv, PREPARE_OPTIONS);
  const sources = [o.seq, o.ratings, o.synthetic ? true : undefined].filter((v) => v !== undefined);
  if (sources.length !== 1) {
    throw new UsageError('prepare: give exactly one of --seq FILE, --ratings FILE or --synthetic');
  }
  for (const name of ['users', 'items', 'clusters'] as const) {
    if (o[name] !== undefined && !o.synthetic) throw new UsageError(`prepare: --${name} needs --synthetic`);
  }
  const ratingFlags = ['user-col', 'item-col', 'time-col', 'rating-col', 'min-rating']
    .filter((name) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)));
  if (ratingFlags.length > 0 && o.ratings === undefined) {
    throw new UsageError(`prepare: --${ratingFlags[0]} needs --ratings`);
  }
  const minRating = minRatingOf(String(o['min-rating']));
  const out = String(o.out);
  const loo = o.protocol === 'loo';
  if (loo) {
    if (o.synthetic) throw new UsageError('prepare: --protocol loo needs --seq FILE or --ratings FILE');
    const duetOnly = ['trigger-len', 'train-neg', 'test-neg', 'max-test-users', 'max-train-rows', 'seed']
      .find((name) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)));
    if (duetOnly !== undefined) {
      throw new UsageError(`prepare: --${duetOnly} does not apply to --protocol loo (every user is kept, nothing is sampled)`);
    }
  }
  const maxLen = (o['max-len'] as number | undefined) ?? (loo ? 50 : 30);
  if (o.synthetic) {
    const data = synthetic({
      users: o.users as number | undefined, items: o.items as number | undefined,
      clusters: o.clusters as number | undefined, seed: o.seed as number,
      clickLength: maxLen, triggerLength: o['trigger-len'] as number,
      trainNeg: o['train-neg'] as number, testNeg: o['test-neg'] as number,
      maxTestUsers: o['max-test-users'] as number,
      maxTrainRows: o['max-train-rows'] as number,
    });
    // Synthetic ids are already 1..N: the maps say so, as every prepared folder's do.
    const split = { ...data, items: IdMap.identity(data.protocol.items), users: IdMap.identity(data.protocol.users) };
    warnIfTiny(io, split);
    await writeDuetSplit(out, split);
    printResult(io, { out, ...data.protocol }, Boolean(o.json));
    return 0;
  }
  const source = String(o.seq ?? o.ratings);
  let users: UserSequence[];
  let read: RatingsSummary | null = null;
  if (o.seq !== undefined) {
    users = await readSequenceFile(source);
  } else {
    const ratingCol = o['rating-col'] as string | undefined;
    ({ users, summary: read } = await readRatingsTable(source, {
      user: column(o['user-col']), item: column(o['item-col']), time: column(o['time-col']),
      rating: ratingCol === 'none' ? null : column(ratingCol),
      minRating: ratingCol === 'none' ? null : minRating,
    }));
  }
  const usable = users.filter((u) => u.items.length >= 3).length;
  if (usable === 0) {
    const what = read === null ? `${users.length} user lines` :
      `${read.rows} rows, ${read.users} user${read.users === 1 ? '' : 's'}` + (read.minRating === null ? '' :
        ` after dropping the ${read.dropped} rows rated below ${read.minRating} (--min-rating)`);
    throw new Error(`prepare: no usable users in '${source}': ${what}; a user needs at least 3 ` +
      'interactions');
  }
  if (loo) {
    const looSplit = buildSeqLooSplit(users, { maxLen, source: path.basename(source) });
    if (read !== null) (looSplit.protocol as unknown as Record<string, unknown>).min_rating = read.minRating;
    if (read !== null && read.minRating !== null) {
      io.stderr(`prepare: kept ${read.kept} of ${read.rows} rows as positives (rated at least ` +
        `${read.minRating}; --min-rating), dropped ${read.dropped}\n`);
    }
    const p = looSplit.protocol;
    if (p.train_targets < MIN_POSITIVES || p.train_targets / Math.max(1, p.items) < MIN_POSITIVES_PER_ITEM) {
      io.stderr(`prepare: warning: the training set is too small to learn from: ${p.users} users, ` +
        `${p.train_targets} training targets for ${p.items} items; use more data\n`);
    }
    await writeSeqLooSplit(out, looSplit);
    printResult(io, { out, ...p }, Boolean(o.json));
    return 0;
  }
  const split = buildDuetSplit(users, {
    maxLen,
    triggerLen: o['trigger-len'] as number,
    trainNeg: o['train-neg'] as number,
    testNeg: o['test-neg'] as number,
    maxTestUsers: o['max-test-users'] as number,
    maxTrainRows: o['max-train-rows'] as number,
    seed: o.seed as number,
    source: path.basename(source),
  });
  if (read !== null) split.protocol.min_rating = read.minRating;
  if (read !== null && read.minRating !== null) {
    io.stderr(`prepare: kept ${read.kept} of ${read.rows} rows as positives (rated at least ` +
      `${read.minRating}; --min-rating), dropped ${read.dropped}\n`);
  }
  warnIfTiny(io, split);
  await writeDuetSplit(out, split);
  printResult(io, { out, ...split.protocol }, Boolean(o.json));
  return 0;
}
