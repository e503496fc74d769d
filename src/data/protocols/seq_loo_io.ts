/**
 * Writing and reading seq-loo-v1 split folders: `protocol.json`, `sequences.txt` (one user a
 * line, internal ids) and the id maps `items.tsv` / `users.tsv`. Node only.
 */
import { nodeBuiltins } from '../../backend/node_builtins';
import { Growable } from '../growable.js';
import { IdMap, ITEM_MAP_FILE, readIdMap, USER_MAP_FILE, writeIdMap } from '../id_map.js';
import { lineError, readLines } from '../line_reader.js';
import { writeLines } from '../line_writer.js';
import {
  SEQ_LOO_MIN_INTERACTIONS, SEQ_LOO_PROTOCOL, type SeqLooProtocol, type SeqLooSplit,
} from './seq_loo.js';

/**
 * The files of a seq-loo-v1 folder.
 *
 * @example
 * ```ts
 * fs.existsSync(path.join(dir, SEQ_LOO_FILES.sequences)); // true after writeSeqLooSplit(dir, split)
 * ```
 */
export const SEQ_LOO_FILES = {
  protocol: 'protocol.json',
  sequences: 'sequences.txt',
  items: ITEM_MAP_FILE,
  users: USER_MAP_FILE,
} as const;

/**
 * Writes a seq-loo-v1 split to `dir` (created if missing): `protocol.json`, `sequences.txt`
 * (`user item item …` per line in internal ids, user 1 first, each user's items oldest first:
 * the last item is the test target, the one before it the validation target) and the id maps
 * `items.tsv` and `users.tsv` (see `IdMap`: internal index ↔ the source's id).
 *
 * @example
 * ```ts
 * const users = await readSequenceFile('../shared/data/amazon-beauty.txt');
 * await writeSeqLooSplit('data/beauty-loo', buildSeqLooSplit(users, { source: 'amazon-beauty.txt' }));
 * ```
 */
export async function writeSeqLooSplit(dir: string, split: SeqLooSplit): Promise<void> {
  const fn = 'writeSeqLooSplit';
  const { fs, path } = await nodeBuiltins(fn);
  if (split === null || typeof split !== 'object' || !(split.items instanceof Int32Array) ||
      !(split.offsets instanceof Int32Array) || split.offsets.length !== split.numUsers + 1) {
    throw new Error(`'split' passed to '${fn}' must be a seq-loo-v1 split (from buildSeqLooSplit)`);
  }
  await fs.promises.mkdir(dir, { recursive: true });
  const file = path.join(dir, SEQ_LOO_FILES.sequences);
  await writeLines(file, split.numUsers, (i) =>
    `${i + 1} ${split.items.subarray(split.offsets[i], split.offsets[i + 1]).join(' ')}`, fn);
  await writeIdMap(path.join(dir, ITEM_MAP_FILE), split.itemMap);
  await writeIdMap(path.join(dir, USER_MAP_FILE), split.userMap);
  await fs.promises.writeFile(path.join(dir, SEQ_LOO_FILES.protocol),
    `${JSON.stringify(split.protocol, null, 2)}\n`);
}

/**
 * Whether `dir` holds a seq-loo-v1 split: its `protocol.json` says `"protocol": "seq-loo-v1"`.
 *
 * @example
 * ```ts
 * if (await isSeqLooFolder('data/beauty-loo')) split = await readSeqLooSplit('data/beauty-loo');
 * ```
 */
export async function isSeqLooFolder(dir: string): Promise<boolean> {
  const { fs, path } = await nodeBuiltins('isSeqLooFolder');
  const file = path.join(dir, SEQ_LOO_FILES.protocol);
  if (!fs.existsSync(file)) return false;
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { protocol?: unknown }).protocol === SEQ_LOO_PROTOCOL;
  } catch {
    return false;
  }
}

/** The id map `file` (checked to map `count` ids), or the identity map when the folder has none. */
async function readMap(file: string, count: number, caller: string): Promise<IdMap> {
  const { fs } = await nodeBuiltins(caller);
  if (!fs.existsSync(file)) return IdMap.identity(count);
  const map = await readIdMap(file);
  if (map.size !== count) {
    throw new Error(`'${caller}': '${file}' maps ${map.size} ids, protocol.json says ${count}`);
  }
  return map;
}

/**
 * Reads a seq-loo-v1 folder written by {@link writeSeqLooSplit} (or `duet-tf prepare --protocol
 * loo`), streaming `sequences.txt` line by line. Every problem names the file and line: a user
 * out of order, an item id outside 1..items, a user with fewer than 3 items, counts that
 * disagree with `protocol.json`.
 *
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * split.protocol.users; // 22363
 * ```
 */
export async function readSeqLooSplit(dir: string): Promise<SeqLooSplit> {
  const fn = 'readSeqLooSplit';
  const { fs, path } = await nodeBuiltins(fn);
  const protocolFile = path.join(dir, SEQ_LOO_FILES.protocol);
  if (!fs.existsSync(protocolFile)) {
    throw new Error(`'${fn}': '${dir}' has no ${SEQ_LOO_FILES.protocol} (build the folder with ` +
      `'duet-tf prepare --protocol loo')`);
  }
  let protocol: SeqLooProtocol;
  try {
    protocol = JSON.parse(await fs.promises.readFile(protocolFile, 'utf8')) as SeqLooProtocol;
  } catch (e) {
    throw new Error(`'${fn}' cannot parse '${protocolFile}': ${(e as Error).message}`);
  }
  if (protocol?.protocol !== SEQ_LOO_PROTOCOL) {
    throw new Error(`'${fn}': '${protocolFile}' is protocol ${JSON.stringify(protocol?.protocol)}, ` +
      `not '${SEQ_LOO_PROTOCOL}'`);
  }
  for (const key of ['users', 'items', 'max_len'] as const) {
    if (!Number.isInteger(protocol[key]) || protocol[key] < 1) {
      throw new Error(`'${fn}': '${protocolFile}' must give '${key}' as a positive integer, got ` +
        `${JSON.stringify(protocol[key])}`);
    }
  }
  const file = path.join(dir, SEQ_LOO_FILES.sequences);
  const items = new Growable(Int32Array, 1 << 16);
  const offsets = new Growable(Int32Array, protocol.users + 1);
  offsets.push(0);
  for await (const { text, no } of readLines(file, fn)) {
    const line = text.trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    const user = offsets.length;
    if (parts[0] !== String(user)) {
      throw lineError(file, no, `expected user ${user} (users are 1.. in order), got '${parts[0]}'`, fn);
    }
    if (parts.length - 1 < SEQ_LOO_MIN_INTERACTIONS) {
      throw lineError(file, no, `user ${user} has ${parts.length - 1} items; seq-loo-v1 keeps ` +
        `users with at least ${SEQ_LOO_MIN_INTERACTIONS}`, fn);
    }
    for (let j = 1; j < parts.length; j++) {
      const id = Number(parts[j]);
      if (!/^\d+$/.test(parts[j]) || id < 1 || id > protocol.items) {
        throw lineError(file, no, `item '${parts[j]}' is not an id in 1..${protocol.items} ` +
          `(protocol.json's items)`, fn);
      }
      items.push(id);
    }
    offsets.push(items.length);
  }
  const numUsers = offsets.length - 1;
  if (numUsers !== protocol.users) {
    throw new Error(`'${fn}': '${file}' has ${numUsers} users, '${protocolFile}' says ${protocol.users}`);
  }
  const numItems = protocol.items;
  const itemMap = await readMap(path.join(dir, ITEM_MAP_FILE), numItems, fn);
  const userMap = await readMap(path.join(dir, USER_MAP_FILE), numUsers, fn);
  return { items: items.toArray(), offsets: offsets.toArray(), numUsers, numItems, itemMap, userMap, protocol };
}
