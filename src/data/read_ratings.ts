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
  /**
   * Rating column: a 0-based index, a header name, or null for a table without ratings. Default:
   * the header's column named `rating` (any case); without a header, column 2 when it is not the
   * user, item or time column and the rows have it; else none.
   */
  rating?: string | number | null;
  /**
   * Which rows are positives. A number R: rows rated at least R; the others are dropped before
   * anything else (they are neither history nor positives: such an item may then be drawn as one
   * of that user's sampled negatives, which it is). null: every row, as `make_duet_data.py` reads
   * a table (implicit feedback). `'auto'` (the default): a rating column holding more than one
   * distinct value makes the table explicit feedback, and positives are the rows rated at least
   * 0.8 × the largest rating (4 on a 1–5 scale, 8 on 1–10; the largest itself when it is not
   * positive); without a rating column, or with one value throughout (implicit data exported
   * with a constant rating), every row is kept.
   */
  minRating?: number | 'auto' | null;
}

/**
 * What {@link readRatingsTable} read and kept.
 *
 * @example
 * ```ts
 * const { summary } = await readRatingsTable('ratings.csv');
 * console.log(`${summary.dropped} of ${summary.rows} rows rated below ${summary.minRating}`);
 * ```
 */
export interface RatingsSummary {
  /** Data rows read (header and blank lines excluded). */
  rows: number;
  /** The rating column used (0-based), or null when ratings were not read. */
  ratingColumn: number | null;
  /** The threshold applied (positives are rows rated at least this), or null when all rows were kept. */
  minRating: number | null;
  /** Rows kept as positives. */
  kept: number;
  /** Rows dropped for a rating below `minRating`. */
  dropped: number;
  /** Distinct users among the kept rows. */
  users: number;
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
 * with their items sorted by time (ties keep file order). Ratings decide which rows are
 * positives (`minRating`; by default, on an explicit-feedback table, those rated at least 0.8 ×
 * the largest rating: 4 stars of 5); users left with no row are dropped. Streams the file line by line; blank
 * lines are skipped; `\r\n` endings and double-quoted fields are fine. MovieLens
 * (`userId,movieId,rating,timestamp` with a header) and the raw Amazon dumps
 * (`user,item,rating,timestamp,` with a trailing comma, no header) read with no options. Errors
 * name the file and line: `ratings.csv:17: expected at least 4 ','-separated fields, got 2`.
 *
 * @example
 * ```ts
 * const users = await readRatings('../shared/data/movielens-latest-small-ratings.csv');
 * const events = await readRatings('events.tsv', { user: 'visitor', item: 'sku', time: 'ts' });
 * const all = await readRatings('ratings.csv', { minRating: null }); // every row, as make_duet_data.py
 * const split = buildDuetSplit(users, { source: 'movielens' });
 * ```
 */
export async function readRatings(path: string, options: ReadRatingsOptions = {}):
    Promise<UserSequence[]> {
  return (await readRatingsTable(path, options)).users;
}

/** The default rating threshold of a column's values (see {@link ReadRatingsOptions.minRating}). */
function autoMinRating(min: number, max: number): number | null {
  if (!(min < max)) return null;
  return max > 0 ? Math.round(0.8 * max * 1e6) / 1e6 : max;
}

/**
 * {@link readRatings} with an account of what it read: rows, the rating column and threshold,
 * rows kept and dropped.
 *
 * @example
 * ```ts
 * const { users, summary } = await readRatingsTable('ratings.csv', { minRating: 3.5 });
 * ```
 */
export async function readRatingsTable(path: string, options: ReadRatingsOptions = {}):
    Promise<{ users: UserSequence[]; summary: RatingsSummary }> {
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
  const { rating: ratingSel } = options;
  if (ratingSel !== undefined && ratingSel !== null &&
      !(typeof ratingSel === 'string' ? ratingSel !== '' : Number.isInteger(ratingSel) && ratingSel >= 0)) {
    throw new Error(`'rating' passed to '${CALLER}' must be a 0-based column index, a header name ` +
      `or null, got ${JSON.stringify(ratingSel)}`);
  }
  const minRatingOption = options.minRating === undefined ? 'auto' : options.minRating;
  if (minRatingOption !== 'auto' && minRatingOption !== null &&
      !(typeof minRatingOption === 'number' && Number.isFinite(minRatingOption))) {
    throw new Error(`'minRating' passed to '${CALLER}' must be a number, 'auto' or null, got ` +
      `${JSON.stringify(minRatingOption)}`);
  }
  const byName = [...Object.values(selectors), ratingSel].some((s) => typeof s === 'string');
  if (byName && header === false) {
    throw new Error(`'${CALLER}' selects a column by name, which needs a header, but 'header' is false`);
  }

  const byUser = new Map<string, { items: string[]; times: number[]; ratings: number[] }>();
  let delimiter = givenDelimiter ?? '';
  let cols: { user: number; item: number; time: number } | undefined;
  let ratingCol: number | null = null;
  let width = 0;
  let rows = 0;
  let lowest = Infinity;
  let highest = -Infinity;
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
      if (minRatingOption !== null && ratingSel !== null) {
        const taken = [cols.user, cols.item, cols.time];
        if (ratingSel !== undefined) ratingCol = resolve('rating', ratingSel);
        else if (isHeader) {
          const i = names.findIndex((n) => n.toLowerCase() === 'rating');
          ratingCol = i >= 0 && !taken.includes(i) ? i : null;
        } else {
          ratingCol = first.length > 2 && !taken.includes(2) ? 2 : null;
        }
        if (ratingCol !== null) width = Math.max(width, ratingCol + 1);
      }
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
    let rating = NaN;
    if (ratingCol !== null) {
      const text = f[ratingCol].trim();
      rating = Number(text);
      if (text === '' || !Number.isFinite(rating)) {
        fail(`rating (column ${ratingCol}) must be a number, got '${f[ratingCol]}' (choose the ` +
          `column with 'rating', or pass minRating: null to read no ratings)`);
      }
      if (rating < lowest) lowest = rating;
      if (rating > highest) highest = rating;
    }
    rows++;
    let u = byUser.get(user);
    if (!u) {
      u = { items: [], times: [], ratings: [] };
      byUser.set(user, u);
    }
    u.items.push(item);
    u.times.push(time);
    u.ratings.push(rating);
  }

  const minRating = ratingCol === null ? null :
    minRatingOption === 'auto' ? autoMinRating(lowest, highest) : minRatingOption;
  let kept = 0;
  const users: UserSequence[] = [];
  for (const [user, all] of byUser) {
    let { items, times } = all;
    if (minRating !== null) {
      const keep = all.ratings.map((r) => r >= minRating);
      items = items.filter((_, i) => keep[i]);
      times = times.filter((_, i) => keep[i]);
      if (items.length === 0) continue;
    }
    kept += items.length;
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
  return {
    users,
    summary: { rows, ratingColumn: ratingCol, minRating, kept, dropped: rows - kept, users: users.length },
  };
}
