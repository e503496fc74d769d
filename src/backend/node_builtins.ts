/**
 * Node's built-in modules, loaded when first needed. duet-tf has one entry for Node and browsers:
 * its Node-only functions (file readers, saving to disk, the server) load `fs` and friends at
 * call time, so importing duet-tf in a browser never touches a Node module.
 */
import { isNode, nodeRequire } from './node_env';

/** The Node built-ins duet-tf uses, typed. */
export interface NodeBuiltins {
  fs: typeof import('node:fs');
  path: typeof import('node:path');
  readline: typeof import('node:readline');
  events: typeof import('node:events');
  streamPromises: typeof import('node:stream/promises');
}

let cached: Promise<NodeBuiltins> | undefined;

/**
 * Node's `fs`, `path`, `readline`, `events` and `stream/promises`; throws an error naming
 * `caller` outside Node.
 *
 * @example
 * ```ts
 * const { fs, path } = await nodeBuiltins('readDuetFile');
 * ```
 */
export function nodeBuiltins(caller: string): Promise<NodeBuiltins> {
  if (!isNode()) {
    return Promise.reject(new Error(`'${caller}' needs Node.js (it uses the file system)`));
  }
  cached ??= nodeRequire().then((req) => ({
    fs: req('node:fs') as NodeBuiltins['fs'],
    path: req('node:path') as NodeBuiltins['path'],
    readline: req('node:readline') as NodeBuiltins['readline'],
    events: req('node:events') as NodeBuiltins['events'],
    streamPromises: req('node:stream/promises') as NodeBuiltins['streamPromises'],
  }));
  return cached;
}
