/**
 * Where the training commands get their data: a split folder (`train.txt`, `test.txt`, optional
 * `protocol.json`) or `synthetic`, the built-in generated data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readDuetSplit } from '../data/duet_split_io';
import type { IdMap } from '../data/id_map';
import { sliceDataset } from '../data/slice_dataset';
import { synthetic } from '../data/synthetic';
import type { DuetDataset } from '../data/types';
import { UsageError } from './args';

/** The `--data` value that selects the built-in synthetic data. */
export const SYNTHETIC = 'synthetic';

/** A loaded split, ready to train and evaluate on. */
export interface LoadedData {
  train: DuetDataset;
  test: DuetDataset;
  /** Largest item id over both sets (the model's `numItems`). */
  numItems: number;
  /** What `--data` named: the folder, or `'synthetic'`. */
  source: string;
  /** The split's item map (`items.tsv`: original id ↔ index), or null when it has none. */
  items: IdMap | null;
}

/**
 * Loads `--data`: `'synthetic'` builds `synthetic()` with its defaults in memory; anything else is
 * a split folder. `maxTrainRows` > 0 keeps the first rows of `train.txt` (already shuffled by
 * the protocol). Problems become one-line errors naming the folder or file.
 */
export async function loadData(command: string, data: string, maxTrainRows = 0):
    Promise<LoadedData> {
  let train: DuetDataset;
  let test: DuetDataset;
  let items: IdMap | null = null;
  if (data === SYNTHETIC) {
    ({ train, test } = synthetic());
  } else {
    if (!fs.existsSync(data)) throw new UsageError(`${command}: --data '${data}' does not exist`);
    if (!fs.statSync(data).isDirectory()) {
      throw new UsageError(`${command}: --data '${data}' is not a folder (it must hold train.txt ` +
        `and test.txt, e.g. from 'duet-tf prepare')`);
    }
    for (const file of ['train.txt', 'test.txt']) {
      if (!fs.existsSync(path.join(data, file))) {
        throw new UsageError(`${command}: --data '${data}' has no ${file} (build a split with ` +
          `'duet-tf prepare', or pass --data synthetic)`);
      }
    }
    const split = await readDuetSplit(data);
    ({ train, test } = split);
    items = split.items ?? null;
  }
  if (train.size === 0) throw new Error(`${command}: the training data in '${data}' has no rows`);
  if (test.size === 0) throw new Error(`${command}: the test data in '${data}' has no rows`);
  if (maxTrainRows > 0 && maxTrainRows < train.size) {
    train = sliceDataset(train, Int32Array.from({ length: maxTrainRows }, (_, i) => i));
  }
  return { train, test, numItems: Math.max(train.numItems, test.numItems), source: data, items };
}
