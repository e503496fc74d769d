// Input checks shared by the metric functions. Internal: not exported from the package.

/** A user id: any number except NaN, or a string. Rows are grouped by `Map` key equality. */
export type UserId = number | string;

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'object') return `an object (${Object.prototype.toString.call(x)})`;
  return typeof x === 'string' ? `'${x}'` : String(x);
}

function checkArrayLike(fn: string, name: string, x: unknown): asserts x is ArrayLike<unknown> {
  const length = (x as { length?: unknown } | null | undefined)?.length;
  if (x == null || typeof x === 'string' || typeof length !== 'number') {
    throw new Error(`'${name}' passed to '${fn}' must be an array or a typed array, got ${describe(x)}`);
  }
}

/** Checks scores: array-like, non-empty, no NaN (±Infinity is allowed: it ranks first or last). */
export function checkScores(fn: string, name: string, scores: ArrayLike<number>): void {
  checkArrayLike(fn, name, scores);
  if (scores.length === 0) throw new Error(`'${name}' passed to '${fn}' must not be empty`);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (typeof s !== 'number' || Number.isNaN(s)) {
      throw new Error(`'${name}' passed to '${fn}' must hold numbers (not NaN), got ${describe(s)} at index ${i}`);
    }
  }
}

/** Checks labels: array-like, `n` long, every value exactly 0 or 1. */
export function checkLabels(fn: string, labels: ArrayLike<number>, n: number, scoresName = 'scores'): void {
  checkArrayLike(fn, 'labels', labels);
  if (labels.length !== n) {
    throw new Error(`'labels' passed to '${fn}' must have the same length as '${scoresName}' (${n}), got ${labels.length}`);
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new Error(`'labels' passed to '${fn}' must be 0 or 1, got ${describe(y)} at index ${i}`);
  }
}

/** Checks users: array-like, `n` long, every id a string or a number that is not NaN. */
export function checkUsers(fn: string, users: ArrayLike<UserId>, n: number, scoresName = 'scores'): void {
  checkArrayLike(fn, 'users', users);
  if (users.length !== n) {
    throw new Error(`'users' passed to '${fn}' must have the same length as '${scoresName}' (${n}), got ${users.length}`);
  }
  for (let i = 0; i < n; i++) {
    const u = users[i];
    if (!(typeof u === 'string' || (typeof u === 'number' && !Number.isNaN(u)))) {
      throw new Error(`'users' passed to '${fn}' must hold strings or numbers (not NaN), got ${describe(u)} at index ${i}`);
    }
  }
}

/** Checks a cut-off K: a positive integer. `where` locates it (e.g. " at index 1" inside `ks`). */
export function checkK(fn: string, name: string, k: unknown, where = ''): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k <= 0) {
    const what = where === '' ? 'must be a positive integer' : 'must hold positive integers';
    throw new Error(`'${name}' passed to '${fn}' ${what}, got ${describe(k)}${where}`);
  }
}
