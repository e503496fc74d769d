/**
 * Writing and reading split folders (`train.txt`, `test.txt`, `protocol.json`) in the authors'
 * format, the layout `make_duet_data.py` produces. Node only.
 */
import { nodeBuiltins } from '../backend/node_builtins';
import { checkDataset } from './check_dataset.js';
import { IdMap, ITEM_MAP_FILE, readIdMap, USER_MAP_FILE, writeIdMap } from './id_map.js';
import { writeLines } from './line_writer.js';
import { readDuetFile } from './read_duet_file.js';
import { markTestSet } from './test_marks.js';
import type { DuetDataset, DuetProtocol, DuetSplit } from './types.js';

/** The shortest decimal that reads back as the same float32 (labels are usually 0 or 1). */
function formatLabel(v: number): string {
  if (Number.isInteger(v)) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = String(Number(v.toPrecision(p)));
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}

/** One line of the authors' format for row `r`, without the newline. */
function formatRow(ds: DuetDataset, r: number): string {
  const T = ds.triggerLength;
  const L = ds.clickLength;
  return `${ds.user[r]};${ds.target[r]};${ds.trigger.subarray(r * T, r * T + T).join(',')};` +
    `${ds.click.subarray(r * L, r * L + L).join(',')};${formatLabel(ds.label[r])}`;
}

/**
 * Writes `ds` to `file` in the authors' format (`user;target;trigger_seq;click_seq;label`, one
 * row a line), streaming in chunks so large sets are never one string.
 *
 * @example
 * ```ts
 * await writeDuetFile('out/valid.txt', splitValidation(split.train, 0.1).validation);
 * ```
 */
export async function writeDuetFile(file: string, ds: DuetDataset): Promise<void> {
  checkDataset(ds, 'writeDuetFile');
  await writeLines(file, ds.size, (r) => formatRow(ds, r), 'writeDuetFile');
}

/**
 * Writes a split as `make_duet_data.py` does: `train.txt`, `test.txt` and `protocol.json` in
 * `dir` (created if missing), and the id maps `items.tsv` and `users.tsv` when the split
 * carries them (see {@link IdMap}).
 *
 * @example
 * ```ts
 * const users = await readRatings('ratings.csv');
 * await writeDuetSplit('data/ml', buildDuetSplit(users, { source: 'ratings.csv' }));
 * ```
 */
export async function writeDuetSplit(dir: string, split: DuetSplit): Promise<void> {
  const { fs, path } = await nodeBuiltins('writeDuetSplit');
  if (!split || typeof split !== 'object') {
    throw new Error(`'split' passed to 'writeDuetSplit' must be { train, test, protocol }`);
  }
  checkDataset(split.train, 'writeDuetSplit', 'split.train');
  checkDataset(split.test, 'writeDuetSplit', 'split.test');
  await fs.promises.mkdir(dir, { recursive: true });
  await writeDuetFile(path.join(dir, 'train.txt'), split.train);
  await writeDuetFile(path.join(dir, 'test.txt'), split.test);
  await fs.promises.writeFile(path.join(dir, 'protocol.json'),
    JSON.stringify(split.protocol, null, 2) + '\n');
  for (const [file, map, count, what] of [
    [ITEM_MAP_FILE, split.items, split.train.numItems, 'items'],
    [USER_MAP_FILE, split.users, split.train.numUsers, 'users'],
  ] as const) {
    if (map === undefined) continue;
    if (!(map instanceof IdMap) || map.size < count) {
      throw new Error(`'split.${what}' passed to 'writeDuetSplit' must be an IdMap of at least ` +
        `${count} ids (the split's ${what}), got ${map instanceof IdMap ? map.size : String(map)}`);
    }
    await writeIdMap(path.join(dir, file), map);
  }
}

/**
 * Reads a split folder: `train.txt` and `test.txt` (authors' format) and, if present,
 * `protocol.json` and the id maps `items.tsv` / `users.tsv`. Both sets get the same `numItems`/`numUsers` (the largest over both files and
 * the protocol's counts), so one embedding table fits both. The two files must have the same
 * sequence widths. The test set is marked as such, so `splitValidation` refuses it.
 *
 * @example
 * ```ts
 * // after: python3 ../shared/tools/make_duet_data.py --seq beauty.txt --out data/beauty
 * const { train, test, protocol } = await readDuetSplit('data/beauty');
 * protocol?.id_vocab === train.numItems + 1; // true
 * ```
 */
export async function readDuetSplit(dir: string): Promise<{
      train: DuetDataset; test: DuetDataset; protocol?: DuetProtocol; items?: IdMap; users?: IdMap;
    }> {
  const { fs, path } = await nodeBuiltins('readDuetSplit');
  const train = await readDuetFile(path.join(dir, 'train.txt'));
  const test = await readDuetFile(path.join(dir, 'test.txt'));
  const protocolPath = path.join(dir, 'protocol.json');
  let protocol: DuetProtocol | undefined;
  if (fs.existsSync(protocolPath)) {
    try {
      protocol = JSON.parse(await fs.promises.readFile(protocolPath, 'utf8')) as DuetProtocol;
    } catch (e) {
      throw new Error(`'readDuetSplit' cannot parse '${protocolPath}': ${(e as Error).message}`);
    }
  }
  if (train.size > 0 && test.size > 0 &&
      (train.clickLength !== test.clickLength || train.triggerLength !== test.triggerLength)) {
    throw new Error(`'readDuetSplit' found different widths in '${dir}': train.txt has click ` +
      `${train.clickLength} / trigger ${train.triggerLength}, test.txt has ` +
      `${test.clickLength} / ${test.triggerLength}`);
  }
  // An empty file has no widths; take them from the other file.
  for (const [a, b] of [[train, test], [test, train]]) {
    if (a.size === 0) {
      a.clickLength = b.clickLength;
      a.triggerLength = b.triggerLength;
    }
  }
  const maxItem = Math.max(train.numItems, test.numItems);
  if (protocol && Number.isInteger(protocol.items) && maxItem > protocol.items) {
    throw new Error(`'readDuetSplit' found item id ${maxItem} in '${dir}', but protocol.json ` +
      `says there are ${protocol.items} items`);
  }
  const count = (v: unknown): number => (Number.isInteger(v) ? (v as number) : 0);
  const numItems = Math.max(maxItem, count(protocol?.items));
  const numUsers = Math.max(train.numUsers, test.numUsers, count(protocol?.users));
  for (const ds of [train, test]) {
    ds.numItems = numItems;
    ds.numUsers = numUsers;
  }
  const maps: { items?: IdMap; users?: IdMap } = {};
  for (const [key, file, count] of [['items', ITEM_MAP_FILE, maxItem], ['users', USER_MAP_FILE,
    Math.max(train.numUsers, test.numUsers)]] as const) {
    const mapPath = path.join(dir, file);
    if (!fs.existsSync(mapPath)) continue;
    const map = await readIdMap(mapPath);
    if (map.size < count) {
      throw new Error(`'readDuetSplit' found ${key.slice(0, -1)} index ${count} in '${dir}', but ` +
        `${file} maps only ${map.size}`);
    }
    maps[key] = map;
  }
  return { train, test: markTestSet(test), protocol, ...maps };
}
