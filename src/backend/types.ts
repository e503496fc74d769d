/**
 * Public types of backend selection. Implementations live in `use_backend.ts` and the loaders.
 */

/**
 * A TensorFlow.js backend duet-tf knows how to load: `'tensorflow'` (native libtensorflow through
 * the optional `@tensorflow/tfjs-node`, Node only), `'wasm'` (`@tensorflow/tfjs-backend-wasm`) or
 * `'cpu'` (`@tensorflow/tfjs-backend-cpu`, plain JavaScript).
 *
 * @example
 * ```ts
 * const name: BackendName = await useBackend('auto');
 * ```
 */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/**
 * What `useBackend` is asked for: one backend, or `'auto'` for the first of tensorflow → wasm → cpu
 * that initialises.
 *
 * @example
 * ```ts
 * const choice: BackendChoice = process.env.DUET_BACKEND === 'wasm' ? 'wasm' : 'auto';
 * await useBackend(choice);
 * ```
 */
export type BackendChoice = 'auto' | BackendName;

/**
 * Where the wasm binaries are: a folder (URL or path, ending in `/`) holding all three files, or
 * one location per binary (all three keys are required, as in tfjs-backend-wasm's `setWasmPaths`).
 *
 * @example
 * ```ts
 * const paths: WasmPaths = 'https://cdn.example.com/tfjs-backend-wasm@4.22.0/dist/';
 * await useBackend('wasm', { wasmPaths: paths });
 * ```
 */
export type WasmPaths =
  | string
  | {
      'tfjs-backend-wasm.wasm': string;
      'tfjs-backend-wasm-simd.wasm': string;
      'tfjs-backend-wasm-threaded-simd.wasm': string;
    };

/**
 * Prepares one backend so that `tf.setBackend(name)` can succeed (imports its package, configures
 * it), or throws an Error whose message says why it cannot. Used to replace a built-in loader,
 * e.g. in tests or for a custom build.
 *
 * @example
 * ```ts
 * const refuseWasm: BackendLoader = async () => {
 *   throw new Error('disabled by configuration');
 * };
 * await useBackend('auto', { loaders: { wasm: refuseWasm } });
 * ```
 */
export type BackendLoader = (options: UseBackendOptions) => Promise<void>;

/**
 * Options of `useBackend`.
 *
 * @example
 * ```ts
 * await useBackend('wasm', { wasmPaths: '/static/tfjs-wasm/', numThreads: 4 });
 * ```
 */
export interface UseBackendOptions {
  /**
   * Where the `.wasm` binaries of tfjs-backend-wasm are. Read only before the wasm backend first
   * initialises in this process or page; later calls leave the running backend as it is.
   * Default in Node: the `dist/` folder of the installed `@tensorflow/tfjs-backend-wasm`.
   * Default in the browser: tfjs-backend-wasm's own rule (next to the script that loads it), which
   * usually needs this option once the app is bundled.
   */
  wasmPaths?: WasmPaths;
  /**
   * Threads of the wasm backend's XNNPACK pool; a positive integer. Default: the number of logical
   * cores. Browser only: it takes effect only where the threaded build loads (a cross-origin-isolated
   * page); Node always runs the single-threaded SIMD build and ignores it. Read before first init only.
   */
  numThreads?: number;
  /**
   * Replaces the built-in loader of some backends. Default: none replaced. Meant for tests and
   * unusual deployments; the backend still has to be registered with tfjs-core under its name.
   */
  loaders?: Partial<Record<BackendName, BackendLoader>>;
}
