/**
 * Line-by-line file reading for the Node readers: a stream through `readline`, so a file of any
 * size is never held whole. Node only; internal.
 */
import type * as fsTypes from 'node:fs';

import { nodeBuiltins } from '../backend/node_builtins';

/** One line of a file, without its line ending; `no` counts from 1, blank lines included. */
export interface Line {
  text: string;
  no: number;
}

/**
 * Yields the lines of `path` (`\n`, `\r\n` or `\r` endings; a leading byte-order mark dropped).
 * Stopping early (`break`) closes the file.
 */
export async function* readLines(path: string, caller: string): AsyncGenerator<Line> {
  if (typeof path !== 'string' || path === '') {
    throw new Error(`'path' passed to '${caller}' must be a non-empty string, got ${String(path)}`);
  }
  const { fs, readline } = await nodeBuiltins(caller);
  let stat: fsTypes.Stats;
  try {
    stat = await fs.promises.stat(path);
  } catch (e) {
    throw new Error(`'${caller}' cannot read '${path}': ${(e as Error).message}`);
  }
  if (!stat.isFile()) throw new Error(`'${caller}' cannot read '${path}': not a file`);
  const stream = fs.createReadStream(path, { encoding: 'utf8' });
  let streamError: Error | undefined;
  stream.on('error', (e) => { streamError = e; });
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let no = 0;
  try {
    for await (const raw of rl) {
      no++;
      yield { text: no === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw, no };
    }
  } finally {
    rl.close();
    stream.destroy();
  }
  if (streamError) throw new Error(`'${caller}' failed reading '${path}': ${streamError.message}`);
}

/** `path:line: message (caller)`, the form every reader error takes. */
export function lineError(path: string, no: number, message: string, caller: string): Error {
  return new Error(`${path}:${no}: ${message} (in '${caller}')`);
}
