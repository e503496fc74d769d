/**
 * Line-by-line file writing for the Node writers, the counterpart of `line_reader.ts`: lines are
 * gathered into ~1 MB chunks and streamed with back-pressure, so a large split is never one
 * string. Node only; internal.
 */
import { nodeBuiltins } from '../backend/node_builtins';

/** Chunk size at which gathered lines are handed to the stream. */
const CHUNK_CHARS = 1 << 20;

/**
 * Writes `count` lines to `file` (created or replaced), line `i` being `lineAt(i)` followed by
 * `\n`. A failure to open or write is thrown as one error naming `caller` and `file`.
 */
export async function writeLines(
  file: string, count: number, lineAt: (i: number) => string, caller: string,
): Promise<void> {
  const { fs, events: { once }, streamPromises: { finished } } = await nodeBuiltins(caller);
  const out = fs.createWriteStream(file, { encoding: 'utf8' });
  out.on('error', () => {}); // surfaced by once() / finished() below
  try {
    let chunk = '';
    for (let i = 0; i < count; i++) {
      chunk += lineAt(i) + '\n';
      if (chunk.length > CHUNK_CHARS) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
    out.end(chunk);
    await finished(out);
  } catch (e) {
    out.destroy();
    throw new Error(`'${caller}' cannot write '${file}': ${(e as Error).message}`);
  }
}
