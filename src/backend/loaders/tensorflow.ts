/**
 * Loader of the `'tensorflow'` backend: the optional peer `@tensorflow/tfjs-node` (native
 * libtensorflow). Never imported statically: it is absent from most installs and from every
 * browser bundle.
 */
import * as tf from '@tensorflow/tfjs-core';

import { isNode, nodeRequire } from '../node_env';
import type { UseBackendOptions } from '../types';

/**
 * The optional peer's package name, held in a variable so bundlers do not try to resolve it.
 *
 * @example
 * ```ts
 * console.log(`npm install ${TFJS_NODE}`);
 * ```
 */
export const TFJS_NODE = '@tensorflow/tfjs-node';

/**
 * Loads `@tensorflow/tfjs-node` (which registers the `'tensorflow'` backend), or throws saying
 * why it cannot: not Node, not installed, failing to load, or bound to another tfjs-core.
 *
 * @example
 * ```ts
 * await loadTensorflow({}).catch((e) => console.log(e.message)); // '@tensorflow/tfjs-node is not installed'
 * ```
 */
export async function loadTensorflow(_options: UseBackendOptions): Promise<void> {
  if (!isNode()) throw new Error(`${TFJS_NODE} runs only under Node.js`);
  requireTfjsNode(await nodeRequire());
}

/**
 * Requires `@tensorflow/tfjs-node` through `req` and checks that it registered its backend with
 * this process's tfjs-core. Split from `loadTensorflow` so each failure can be tested.
 * tfjs-node is CommonJS, so `require` loads it the same from the ESM and the CJS build.
 *
 * @example
 * ```ts
 * requireTfjsNode(await nodeRequire());
 * ```
 */
export function requireTfjsNode(req: (id: string) => unknown): void {
  try {
    req(TFJS_NODE);
  } catch (err) {
    if (isMissingModule(err, TFJS_NODE)) throw new Error(`${TFJS_NODE} is not installed`);
    throw new Error(`${TFJS_NODE} is installed but failed to load: ${firstLine(err)}`);
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(
      `${TFJS_NODE} loaded but registered no 'tensorflow' backend with this ` +
        `@tensorflow/tfjs-core ${tf.version_core}; install tfjs-node ${tf.version_core}`,
    );
  }
}

/** True when `err` says that `name` itself (not one of its dependencies) cannot be found. */
function isMissingModule(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  return firstLine(err).includes(`'${name}'`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}
