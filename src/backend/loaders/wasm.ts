/**
 * Loader of the `'wasm'` backend (`@tensorflow/tfjs-backend-wasm`): imports it, then points it at
 * its `.wasm` binaries and sets its thread count, both of which must happen before it initialises.
 */
import * as tf from '@tensorflow/tfjs-core';

import { isNode, nodeRequire } from '../node_env';
import type { UseBackendOptions, WasmPaths } from '../types';

/**
 * The three binaries tfjs-backend-wasm 4.22 ships; which one loads depends on SIMD and threads.
 *
 * @example
 * ```ts
 * const files = WASM_BINARIES.map((f) => `/static/tfjs-wasm/${f}`); // to copy next to the app
 * ```
 */
export const WASM_BINARIES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

type WasmBinary = (typeof WASM_BINARIES)[number];

interface WasmModule {
  setWasmPaths(paths: WasmPaths, usePlatformFetch?: boolean): void;
  setThreadsCount(numThreads: number): void;
}

/**
 * Imports tfjs-backend-wasm and, unless the wasm backend already runs, configures where its
 * binaries are (`options.wasmPaths`; in Node by default the installed package's `dist/`) and its
 * thread count. In Node a missing binary is reported here, before tfjs tries and aborts.
 *
 * @example
 * ```ts
 * await loadWasm({ wasmPaths: '/static/tfjs-wasm/' });
 * await tf.setBackend('wasm');
 * ```
 */
export async function loadWasm(options: UseBackendOptions): Promise<void> {
  // Dynamic so that importing duet-tf does not register wasm (priority 2) for every user.
  const mod = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModule & {
    default?: WasmModule;
  };
  const wasm: WasmModule = typeof mod.setWasmPaths === 'function' ? mod : (mod.default as WasmModule);
  if (tf.engine().registry['wasm'] != null) return;

  let paths = options.wasmPaths;
  if (paths === undefined && isNode()) paths = await installedWasmDir();
  if (typeof paths === 'string' && !/[\\/]$/.test(paths)) paths = `${paths}/`;
  if (paths !== undefined) {
    if (isNode()) await assertBinaryExists(paths);
    wasm.setWasmPaths(paths);
  }
  if (options.numThreads !== undefined) wasm.setThreadsCount(options.numThreads);
}

/**
 * The folder (with a trailing separator) of the installed tfjs-backend-wasm's entry and binaries.
 * Node only.
 *
 * @example
 * ```ts
 * console.log(await installedWasmDir()); // …/node_modules/@tensorflow/tfjs-backend-wasm/dist/
 * ```
 */
export async function installedWasmDir(): Promise<string> {
  const req = await nodeRequire();
  const entry = req.resolve('@tensorflow/tfjs-backend-wasm');
  return entry.replace(/[^\\/]*$/, '');
}

/** The binary tfjs-backend-wasm will fetch, by the same rule it uses. */
async function chosenBinary(): Promise<WasmBinary> {
  const [simd, threads] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

async function assertBinaryExists(paths: WasmPaths): Promise<void> {
  const binary = await chosenBinary();
  const location = typeof paths === 'string' ? `${paths}${binary}` : paths[binary];
  if (typeof location !== 'string') throw new Error(`no location given for ${binary}`);
  // URLs (http:, file:, data:) are tfjs's to fetch; only plain paths are checked here.
  if (/^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location)) return;
  const req = await nodeRequire();
  const fs = req('node:fs') as { existsSync(path: string): boolean };
  if (!fs.existsSync(location)) throw new Error(`${binary} not found at ${location}`);
}
