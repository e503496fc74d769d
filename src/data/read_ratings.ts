/**
 * Reading interaction tables (`user,item,rating,timestamp` rows: MovieLens, raw Amazon dumps)
 * into users' time-ordered sequences. Node only.
 */
import { lineError, readLines } from './line_reader.js';
import type { UserSequence } from './types.js';

/**
 * Options of {@link readRatings}.
 *
 * @example
 * ```ts
 * const opts: ReadRatingsOptions = { delimiter: '\t', user: 'visitor', item: 'sku', time: 'ts' };
 * ```
 */
export interface ReadRatingsOptions {
  /** Field separator. Default: detected from the first line (the most frequent of `,` `\t` `;`). */
  delimiter?: ',' | '\t' | ';';
  /**
   * Whether the first row is a header. `'auto'`: it is when its time column is not a number (or,
   * when a column is selected by name, always). Default `'auto'`.
   */
  header?: boolean | 'auto';
  /** User column: a 0-based index, or a header name. Default 0. */
  user?: string | number;
  /** Item column: a 0-based index, or a header name. Default 1. */
  item?: string | number;
  /** Timestamp column (numbers; ties keep file order): a 0-based index, or a header name. Default 3. */
  time?: string | number;
}

const CALLER = 'readRatings';
const DELIMITERS = [',', '\t', ';'] as const;

/** Splits one line, honouring double-quoted fields (`""` inside quotes is a quote). */
function splitFields(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (c === delimiter) {
      out.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  out.push(field);
  return out;
}

function detectDelimiter(line: string, path: string, no: number): string {
  let best = '';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const count = line.split(d).length - 1;
    if (count > bestCount) { best = d; bestCount = count; }
  }
  if (!best) {
    throw lineError(path, no, `cannot detect the delimiter (none of ',' '\\t' ';' found); ` +
      `pass the 'delimiter' option`, CALLER);
  }
  return best;
}

function isNumber(text: string): boolean {
  const s = text.trim();
  return s !== '' && Number.isFinite(Number(s));
}

function showDelimiter(d: string): string {
  return d === '\t' ? 'tab' : `'${d}'`;
}

/**
 * Reads an interaction table into users' sequences: users in order of first appearance, each
 * with their items sorted by time (ties keep file order). Streams the file line by line; blank
 * lines are skipped; `\r\n` endings and double-quoted fields are fine. MovieLens
 * (`userId,movieId,rating,timestamp` with a header) and the raw Amazon dumps
 * (`user,item,rating,timestamp,` with a trailing comma, no header) read with no options. Errors
 * name the file and line: `ratings.csv:17: expected at least 4 ','-separated fields, got 2`.
 *
 * @example
 * ```ts
 * const users = await readRatings('../shared/data/movielens-latest-small-ratings.csv');
 * const events = await readRatings('events.tsv', { user: 'visitor', item: 'sku', time: 'ts' });
 * const split = buildDuetSplit(users, { source: 'movielens' });
 * ```
 */
export async function readRatings(path: string, options: ReadRatingsOptions = {}):
    Promise<UserSequence[]> {
  const { delimiter: givenDelimiter, header = 'auto' } = options;
  if (givenDelimiter !== undefined && !(DELIMITERS as readonly string[]).includes(givenDelimiter)) {
    throw new Error(`'delimiter' passed to '${CALLER}' must be ',', '\\t' or ';', got ` +
      `${JSON.stringify(givenDelimiter)}`);
  }
  if (header !== true && header !== false && header !== 'auto') {
    throw new Error(`'header' passed to '${CALLER}' must be true, false or 'auto', got ${String(header)}`);
  }
  const selectors = { user: options.user ?? 0, item: options.item ?? 1, time: options.time ?? 3 };
  for (const [key, sel] of Object.entries(selectors)) {
    const ok = typeof sel === 'string' ? sel !== '' : Number.isInteger(sel) && sel >= 0;
    if (!ok) {
      throw new Error(`'${key}' passed to '${CALLER}' must be a 0-based column index or a ` +
        `header name, got ${JSON.stringify(sel)}`);
    }
  }
  const byName = Object.values(selectors).some((s) => typeof s === 'string');
  if (byName && header === false) {
    throw new Error(`'${CALLER}' selects a column by name, which needs a header, but 'header' is false`);
  }

  const byUser = new Map<string, { items: string[]; times: number[] }>();
  let delimiter = givenDelimiter ?? '';
  let cols: { user: number; item: number; time: number } | undefined;
  let width = 0;
  for await (const { text, no } of readLines(path, CALLER)) {
    if (text.trim() === '') continue;
    const fail = (m: string): never => { throw lineError(path, no, m, CALLER); };
    if (!cols) {
      delimiter ||= detectDelimiter(text, path, no);
      const first = splitFields(text, delimiter);
      const names = first.map((f) => f.trim());
      const resolve = (key: string, sel: string | number): number => {
        if (typeof sel === 'number') return sel;
        let i = names.indexOf(sel);
        if (i < 0) i = names.findIndex((n) => n.toLowerCase() === sel.toLowerCase());
        if (i < 0) fail(`no column named '${sel}' (for '${key}') in the header: ${names.join(', ')}`);
        return i;
      };
      cols = {
        user: resolve('user', selectors.user),
        item: resolve('item', selectors.item),
        time: resolve('time', selectors.time),
      };
      width = Math.max(cols.user, cols.item, cols.time) + 1;
      const isHeader = header === 'auto'
        ? byName || (cols.time < first.length && !isNumber(first[cols.time]))
        : header;
      if (isHeader) continue;
    }
    const f = splitFields(text, delimiter);
    if (f.length < width) {
      fail(`expected at least ${width} ${showDelimiter(delimiter)}-separated fields, got ${f.length}`);
    }
    const user = f[cols.user].trim();
    const item = f[cols.item].trim();
    const timeText = f[cols.time].trim();
    if (user === '') fail(`user (column ${cols.user}) is empty`);
    if (item === '') fail(`item (column ${cols.item}) is empty`);
    const time = Number(timeText);
    if (timeText === '' || !Number.isFinite(time)) {
      fail(`time (column ${cols.time}) must be a number, got '${f[cols.time]}'`);
    }
    let u = byUser.get(user);
    if (!u) {
      u = { items: [], times: [] };
      byUser.set(user, u);
    }
    u.items.push(item);
    u.times.push(time);
  }

  const users: UserSequence[] = [];
  for (const [user, { items, times }] of byUser) {
    let sorted = true;
    for (let i = 1; i < times.length && sorted; i++) sorted = times[i - 1] <= times[i];
    if (sorted) {
      users.push({ user, items });
    } else {
      // Array.prototype.sort is stable, so equal times keep file order.
      const order = items.map((_, i) => i).sort((a, b) => times[a] - times[b]);
      users.push({ user, items: order.map((i) => items[i]) });
    }
  }
  return users;
}
