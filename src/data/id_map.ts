/**
 * Id maps: the user's own ids (as they appear in their data: `B0012XYZ`, `318`, `alice`) ↔ the
 * internal indices 1..N a split and a model use (0 is padding). `prepare` writes them beside a
 * split (`items.tsv`, `users.tsv`), `train` copies the item map into the model folder, and the
 * service, `recommend` and the device runtime translate through them. The class is browser-safe;
 * reading and writing files is Node only (loaded lazily).
 */
import { nodeBuiltins } from '../backend/node_builtins';

/**
 * The item map's file name in a split folder and in a model folder.
 *
 * @example
 * ```ts
 * const items = await readIdMap(path.join('models/duet', ITEM_MAP_FILE));
 * ```
 */
export const ITEM_MAP_FILE = 'items.tsv';
/**
 * The user map's file name in a split folder.
 *
 * @example
 * ```ts
 * const users = await readIdMap(path.join('data/mine', USER_MAP_FILE));
 * ```
 */
export const USER_MAP_FILE = 'users.tsv';

const HEADER = 'index\tid';

/**
 * Original ids ↔ internal indices: `originals[i]` is the original id of index `i + 1`.
 * Ids are strings, compared exactly; a number given to {@link IdMap.indexOf} is looked up by its
 * decimal text (`318` finds `'318'`; an id written `007` must be asked for as the string).
 * A source that lists one user twice (two lines of a sequence file) gives them two indices;
 * `indexOf` finds the first.
 *
 * @example
 * ```ts
 * const items = new IdMap(['B001', 'B002', 'B003']);
 * items.indexOf('B002');  // 2
 * items.originalOf(3);    // 'B003'
 * items.indexOf('nope');  // undefined
 * ```
 */
export class IdMap {
  /** The original ids, in index order: `originals[i]` belongs to index `i + 1`. */
  readonly originals: readonly string[];
  private readonly lookup = new Map<string, number>();

  constructor(originals: readonly string[]) {
    if (!Array.isArray(originals)) {
      throw new Error(`'originals' passed to 'IdMap' must be an array of strings, got ${String(originals)}`);
    }
    originals.forEach((id, i) => {
      if (typeof id !== 'string' || id === '') {
        throw new Error(`'originals[${i}]' passed to 'IdMap' must be a non-empty string, got ` +
          `${JSON.stringify(id)}`);
      }
      if (!this.lookup.has(id)) this.lookup.set(id, i + 1);
    });
    this.originals = Object.freeze([...originals]);
  }

  /**
   * The map whose ids are the indices themselves (`'1'` ↔ 1, …, `'n'` ↔ n): data that was
   * already numbered 1..n, such as `synthetic()`'s.
   *
   * @example
   * ```ts
   * IdMap.identity(3).originals; // ['1', '2', '3']
   * ```
   */
  static identity(n: number): IdMap {
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`'n' passed to 'IdMap.identity' must be a non-negative integer, got ${String(n)}`);
    }
    return new IdMap(Array.from({ length: n }, (_, i) => String(i + 1)));
  }

  /** Number of indices (the largest index). */
  get size(): number {
    return this.originals.length;
  }

  /** The index of an original id (a number is looked up by its decimal text), or undefined. */
  indexOf(id: string | number): number | undefined {
    if (typeof id === 'number') return Number.isFinite(id) ? this.lookup.get(String(id)) : undefined;
    return typeof id === 'string' ? this.lookup.get(id) : undefined;
  }

  /** The original id of index `index` (1..size), or undefined. */
  originalOf(index: number): string | undefined {
    return Number.isInteger(index) && index >= 1 ? this.originals[index - 1] : undefined;
  }
}

// Tabs, newlines and backslashes inside an id are escaped, so every id fits one TSV field.
function escapeField(id: string): string {
  return /[\t\n\r\\]/.test(id) ?
    id.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : id;
}

function unescapeField(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/**
 * The TSV text of a map: a header `index<TAB>id`, then one `index<TAB>id` line per index
 * (tabs, newlines and backslashes in ids escaped as `\t`, `\n`, `\\`).
 *
 * @example
 * ```ts
 * formatIdMap(new IdMap(['a', 'b'])); // 'index\tid\n1\ta\n2\tb\n'
 * ```
 */
export function formatIdMap(map: IdMap): string {
  const lines = [HEADER];
  map.originals.forEach((id, i) => lines.push(`${i + 1}\t${escapeField(id)}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Parses what {@link formatIdMap} writes; `source` names the file in errors. Indices must run
 * 1, 2, 3, … in order.
 *
 * @example
 * ```ts
 * parseIdMap('index\tid\n1\ta\n2\tb\n', 'items.tsv').indexOf('b'); // 2
 * ```
 */
export function parseIdMap(text: string, source: string): IdMap {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== HEADER) {
    throw new Error(`${source}:1: an id map starts with the header 'index<TAB>id', got ` +
      `${JSON.stringify(lines[0] ?? '')}`);
  }
  const originals: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const tab = lines[i].indexOf('\t');
    const index = tab < 0 ? NaN : Number(lines[i].slice(0, tab));
    if (index !== i) {
      throw new Error(`${source}:${i + 1}: expected '${i}<TAB>id', got ${JSON.stringify(lines[i])}`);
    }
    const id = unescapeField(lines[i].slice(tab + 1));
    if (id === '') throw new Error(`${source}:${i + 1}: the id of index ${i} is empty`);
    originals.push(id);
  }
  return new IdMap(originals);
}

/**
 * Writes a map to `file` as TSV (see {@link formatIdMap}).
 *
 * @example
 * ```ts
 * await writeIdMap('data/mine/items.tsv', split.items);
 * ```
 */
export async function writeIdMap(file: string, map: IdMap): Promise<void> {
  const { fs } = await nodeBuiltins('writeIdMap');
  if (!(map instanceof IdMap)) throw new Error(`'map' passed to 'writeIdMap' must be an IdMap`);
  await fs.promises.writeFile(file, formatIdMap(map));
}

/**
 * Reads a map written by {@link writeIdMap}.
 *
 * @example
 * ```ts
 * const items = await readIdMap('models/duet/items.tsv');
 * ```
 */
export async function readIdMap(file: string): Promise<IdMap> {
  const { fs } = await nodeBuiltins('readIdMap');
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`'readIdMap' cannot read '${file}': ${(e as Error).message}`);
  }
  return parseIdMap(text, file);
}

/**
 * The item map of a split or model folder (`dir/items.tsv`), or null when the folder has none
 * (a model saved with `saveDuet` alone, or a split from another tool): then ids are the
 * internal indices.
 *
 * @example
 * ```ts
 * const items = await readItemMap('models/duet');
 * const top = await recommend(model, ['B001', 'B007'], { numItems, items });
 * ```
 */
export async function readItemMap(dir: string): Promise<IdMap | null> {
  const { fs, path } = await nodeBuiltins('readItemMap');
  const file = path.join(dir, ITEM_MAP_FILE);
  return fs.existsSync(file) ? readIdMap(file) : null;
}
