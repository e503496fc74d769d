/**
 * Backend resolution: try tensorflow (tfjs-node) → wasm → cpu, keep the first that initialises,
 * and fail with one error that lists every backend tried and why it could not be used.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { loadCpu } from './loaders/cpu';
import { loadTensorflow } from './loaders/tensorflow';
import { loadWasm } from './loaders/wasm';
import { prepareSimdKernels } from './kernels/simd/simd_module';
import { registerDuetKernels } from './register_kernels';
import type { BackendChoice, BackendLoader, BackendName, UseBackendOptions } from './types';

/**
 * The order `'auto'` tries, fastest first.
 *
 * @example
 * ```ts
 * console.log(BACKEND_PRIORITY.join(' → ')); // tensorflow → wasm → cpu
 * ```
 */
export const BACKEND_PRIORITY: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

const BUILTIN_LOADERS: Record<BackendName, BackendLoader> = {
  tensorflow: loadTensorflow,
  wasm: loadWasm,
  cpu: loadCpu,
};

// Calls run one after another: two resolutions interleaving would race on tf.setBackend.
let queue: Promise<unknown> = Promise.resolve();

/**
 * Makes one TensorFlow.js backend current and returns its name. `'auto'` (the default) tries
 * `'tensorflow'` (needs the optional `@tensorflow/tfjs-node`, Node only), then `'wasm'`, then
 * `'cpu'`; a named backend is the only one tried. The chosen backend gets duet-tf's kernels
 * (`registerDuetKernels`). When nothing initialises, the previous backend is restored and one
 * Error lists each backend tried with its reason.
 *
 * @example
 * ```ts
 * const picked = await useBackend();                 // 'tensorflow' | 'wasm' | 'cpu'
 * await useBackend('wasm', { wasmPaths: '/static/tfjs-wasm/' });
 * ```
 */
export function useBackend(
  name: BackendChoice = 'auto',
  options: UseBackendOptions = {},
): Promise<BackendName> {
  const run = queue.then(() => resolveBackend(name, options));
  queue = run.catch(() => undefined);
  return run;
}

/**
 * The name of the current backend (`tf.getBackend()`), or `undefined` when none is set yet.
 *
 * @example
 * ```ts
 * await useBackend('cpu');
 * currentBackend(); // 'cpu'
 * ```
 */
export function currentBackend(): BackendName | (string & {}) | undefined {
  return tf.engine().backendName ?? undefined;
}

async function resolveBackend(name: BackendChoice, options: UseBackendOptions): Promise<BackendName> {
  checkArguments(name, options);
  const candidates = name === 'auto' ? BACKEND_PRIORITY : [name];
  const previous = tf.engine().backendName;
  const reasons: string[] = [];
  for (const candidate of candidates) {
    try {
      const load = options.loaders?.[candidate] ?? BUILTIN_LOADERS[candidate];
      await load(options);
      await setBackendOrExplain(candidate);
      registerDuetKernels(candidate);
      // Compiled asynchronously here: browsers refuse a synchronous compile on the main thread.
      if (candidate === 'wasm') await prepareSimdKernels(tf.backend() as BackendWasm);
      if (candidate === 'cpu' && name === 'cpu') silenceCpuBanner();
      return candidate;
    } catch (err) {
      reasons.push(`${candidate}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  // tf.setBackend leaves a failed name current with no instance; put back what worked before.
  if (previous != null && previous in tf.engine().registry) await tf.setBackend(previous);
  throw new Error(
    `useBackend('${name}'): no backend could be initialised: ${reasons.join('; ')}`,
  );
}

/**
 * `tf.setBackend(name)`, throwing the backend's own initialisation error when it fails (tfjs-core
 * only logs it, and not at all in production mode).
 */
async function setBackendOrExplain(name: BackendName): Promise<void> {
  const entry = tf.engine().registryFactory[name];
  if (entry == null) throw new Error(`no '${name}' backend is registered with tfjs-core`);
  let failure: unknown;
  const original = entry.factory;
  entry.factory = () => {
    try {
      const made = original();
      // tfjs-core tests for a thenable the same way.
      if (made != null && typeof (made as Promise<tf.KernelBackend>).then === 'function') {
        return (made as Promise<tf.KernelBackend>).catch((err: unknown) => {
          failure = err;
          throw err;
        });
      }
      return made;
    } catch (err) {
      failure = err;
      throw err;
    }
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } finally {
    entry.factory = original;
  }
  if (!ok) {
    const why = failure instanceof Error ? failure.message
      : (failure as { message?: unknown } | undefined)?.message ?? failure;
    throw new Error(`initialisation failed: ${String(why ?? 'tf.setBackend returned false')}`);
  }
}

/**
 * tfjs-backend-cpu prints "looks like you are running TensorFlow.js in Node.js…" on its first
 * write; a caller who asked for cpu by name has already chosen.
 */
function silenceCpuBanner(): void {
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (typeof backend.firstUse === 'boolean') backend.firstUse = false;
}

function checkArguments(name: unknown, options: UseBackendOptions): void {
  if (name !== 'auto' && !BACKEND_PRIORITY.includes(name as BackendName)) {
    throw new Error(
      `'name' passed to 'useBackend' must be 'auto', 'tensorflow', 'wasm' or 'cpu', ` +
        `got ${JSON.stringify(name)}`,
    );
  }
  if (options == null || typeof options !== 'object') {
    throw new Error(`'options' passed to 'useBackend' must be an object, got ${String(options)}`);
  }
  const { numThreads, wasmPaths, loaders } = options;
  if (numThreads !== undefined && !(Number.isInteger(numThreads) && numThreads >= 1)) {
    throw new Error(
      `'options.numThreads' passed to 'useBackend' must be a positive integer, got ${numThreads}`,
    );
  }
  if (wasmPaths !== undefined && typeof wasmPaths !== 'string' &&
    (wasmPaths === null || typeof wasmPaths !== 'object')) {
    throw new Error(
      `'options.wasmPaths' passed to 'useBackend' must be a string or an object, got ${String(wasmPaths)}`,
    );
  }
  for (const [key, loader] of Object.entries(loaders ?? {})) {
    if (!BACKEND_PRIORITY.includes(key as BackendName) || typeof loader !== 'function') {
      throw new Error(
        `'options.loaders' passed to 'useBackend' must map 'tensorflow', 'wasm' or 'cpu' to ` +
          `functions, got ${JSON.stringify(key)}: ${typeof loader}`,
      );
    }
  }
}
