/**
 * Reading one-user-per-line sequence files (`user item item …`, as in the preprocessed Amazon
 * data). Node only.
 */
import { readLines } from './line_reader.js';
import type { UserSequence } from './types.js';

/**
 * Reads a sequence file: one user per line, `user item item …`, whitespace-separated, items in
 * time order. Ids are kept as the strings in the file (a split re-indexes them). Blank lines are
 * skipped; a line with only a user gives that user no items. A user on two lines is two entries,
 * as in `make_duet_data.py`. Streams the file line by line.
 *
 * @example
 * ```ts
 * const users = await readSequenceFile('../shared/data/amazon-beauty.txt');
 * const split = buildDuetSplit(users, { source: 'amazon-beauty.txt' });
 * ```
 */
export async function readSequenceFile(path: string): Promise<UserSequence[]> {
  const users: UserSequence[] = [];
  for await (const { text } of readLines(path, 'readSequenceFile')) {
    const parts = text.trim().split(/\s+/);
    if (parts[0] === '') continue;
    users.push({ user: parts[0], items: parts.slice(1) });
  }
  return users;
}
