/**
 * Reading sample files in the authors' format, `user;target;trigger_seq;click_seq;label` per
 * line, streamed line by line into growable columns. Node only.
 */
import { Growable } from './growable.js';
import { lineError, readLines } from './line_reader.js';
import type { DuetDataset } from './types.js';

/**
 * One parsed sample line.
 *
 * @example
 * ```ts
 * for await (const row of iterateDuetRows('test.txt')) console.log(row.line, row.label);
 * ```
 */
export interface DuetRow {
  /** Line number in the file (from 1). */
  line: number;
  user: number;
  target: number;
  trigger: Int32Array;
  click: Int32Array;
  label: number;
}

/**
 * Options of {@link readDuetFile}.
 *
 * @example
 * ```ts
 * const opts: ReadDuetFileOptions = { maxRows: 10_000 };
 * ```
 */
export interface ReadDuetFileOptions {
  /** Read at most this many rows (0 reads none). Default: all. */
  maxRows?: number;
}

type Fail = (message: string) => never;

/** Parses a non-negative 32-bit integer id; `name` is used in the error. */
function parseId(field: string, name: string, fail: Fail): number {
  const s = field.trim();
  if (!/^\d+$/.test(s) || Number(s) > 2147483647) {
    fail(`${name} must be a non-negative integer, got '${field}'`);
  }
  return Number(s);
}

/** Appends the comma-separated ids of `field` to `out`; returns how many. */
function parseIds(field: string, name: string, out: Growable<Int32Array>, fail: Fail): number {
  const s = field.trim();
  if (s === '') return 0;
  const start = out.length;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
    } else if (c === 44 && digits > 0 && v <= 2147483647) {
      out.push(v);
      v = 0;
      digits = 0;
    } else {
      // Slow path, only to name the bad item.
      const tokens = s.split(',');
      const k = tokens.findIndex((t) => !/^\d+$/.test(t) || Number(t) > 2147483647);
      out.truncate(start);
      fail(`${name} item ${k + 1} must be a non-negative integer, got '${tokens[k]}'`);
    }
  }
  return out.length - start;
}

/**
 * Parses one line into the given columns; returns the widths of its trigger and click sequences.
 */
function parseLine(text: string, fail: Fail, cols: {
  user: Growable<Int32Array>; target: Growable<Int32Array>; label: Growable<Float32Array>;
  trigger: Growable<Int32Array>; click: Growable<Int32Array>;
}): { triggerWidth: number; clickWidth: number } {
  const f = text.split(';');
  if (f.length !== 5) fail(`expected 5 ';'-separated fields, got ${f.length}`);
  const user = parseId(f[0], 'user', fail);
  const target = parseId(f[1], 'target', fail);
  const labelText = f[4].trim();
  const label = Number(labelText);
  if (labelText === '' || !Number.isFinite(label)) fail(`label must be a number, got '${f[4]}'`);
  const triggerWidth = parseIds(f[2], 'trigger_seq', cols.trigger, fail);
  const clickWidth = parseIds(f[3], 'click_seq', cols.click, fail);
  cols.user.push(user);
  cols.target.push(target);
  cols.label.push(label);
  return { triggerWidth, clickWidth };
}

function checkMaxRows(maxRows: number | undefined, caller: string): number {
  if (maxRows === undefined) return Infinity;
  if (maxRows !== Infinity && (!Number.isInteger(maxRows) || maxRows < 0)) {
    throw new Error(`'maxRows' passed to '${caller}' must be a non-negative integer, got ${String(maxRows)}`);
  }
  return maxRows;
}

/**
 * Reads a sample file in the authors' format (`user;target;trigger_seq;click_seq;label`, the
 * sequences comma-separated) into a {@link DuetDataset}. Streams the file line by line into
 * growable typed arrays. Blank lines are skipped; `\r\n` endings are fine. Every row must have the
 * trigger and click widths of the first row. Errors name the file and line:
 * `train.txt:17: expected 5 ';'-separated fields, got 3 (in 'readDuetFile')`.
 *
 * `numItems` / `numUsers` are the largest ids seen in this file; `readDuetSplit` aligns them
 * across a split's files.
 *
 * @example
 * ```ts
 * const train = await readDuetFile('data/beauty/train.txt');
 * const head = await readDuetFile('data/beauty/train.txt', { maxRows: 1000 });
 * ```
 */
export async function readDuetFile(path: string, options: ReadDuetFileOptions = {}):
    Promise<DuetDataset> {
  const caller = 'readDuetFile';
  const maxRows = checkMaxRows(options.maxRows, caller);
  const cols = {
    user: new Growable(Int32Array), target: new Growable(Int32Array),
    label: new Growable(Float32Array),
    trigger: new Growable(Int32Array, 16384), click: new Growable(Int32Array, 32768),
  };
  let size = 0;
  let triggerLength = -1;
  let clickLength = -1;
  let firstLine = 0;
  if (maxRows > 0) {
    for await (const { text, no } of readLines(path, caller)) {
      if (text.trim() === '') continue;
      const fail: Fail = (m) => { throw lineError(path, no, m, caller); };
      const w = parseLine(text, fail, cols);
      if (size === 0) {
        triggerLength = w.triggerWidth;
        clickLength = w.clickWidth;
        firstLine = no;
      } else if (w.triggerWidth !== triggerLength || w.clickWidth !== clickLength) {
        const which = w.triggerWidth !== triggerLength
          ? `trigger_seq has ${w.triggerWidth} items`
          : `click_seq has ${w.clickWidth} items`;
        const want = w.triggerWidth !== triggerLength ? triggerLength : clickLength;
        fail(`${which}, but line ${firstLine} has ${want}; all rows must have the same widths`);
      }
      if (++size >= maxRows) break;
    }
  }
  const ds: DuetDataset = {
    size,
    clickLength: Math.max(0, clickLength),
    triggerLength: Math.max(0, triggerLength),
    user: cols.user.toArray(),
    target: cols.target.toArray(),
    trigger: cols.trigger.toArray(),
    click: cols.click.toArray(),
    label: cols.label.toArray(),
    numItems: 0,
    numUsers: 0,
  };
  ds.numItems = Math.max(maxOf(ds.target), maxOf(ds.trigger), maxOf(ds.click));
  ds.numUsers = maxOf(ds.user);
  return ds;
}

function maxOf(a: Int32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

/**
 * Iterates over the rows of a sample file in the authors' format one at a time, for files too
 * large to hold or for a quick look. Same parsing and errors as {@link readDuetFile}, except that
 * widths may differ between rows. Breaking out of the loop closes the file.
 *
 * @example
 * ```ts
 * for await (const row of iterateDuetRows('data/beauty/test.txt')) {
 *   if (row.label === 1) console.log(row.user, row.target, row.click);
 * }
 * ```
 */
export async function* iterateDuetRows(path: string): AsyncGenerator<DuetRow> {
  const caller = 'iterateDuetRows';
  for await (const { text, no } of readLines(path, caller)) {
    if (text.trim() === '') continue;
    const cols = {
      user: new Growable(Int32Array, 1), target: new Growable(Int32Array, 1),
      label: new Growable(Float32Array, 1),
      trigger: new Growable(Int32Array, 16), click: new Growable(Int32Array, 64),
    };
    parseLine(text, (m) => { throw lineError(path, no, m, caller); }, cols);
    yield {
      line: no,
      user: cols.user.toArray()[0],
      target: cols.target.toArray()[0],
      trigger: cols.trigger.toArray(),
      click: cols.click.toArray(),
      label: cols.label.toArray()[0],
    };
  }
}
