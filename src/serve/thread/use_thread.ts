/**
 * `useGeneratorThread`: whether a service runs its generator in a thread of its own, from the
 * `generatorThread` option, where the model comes from and the backend: a model folder on wasm
 * or cpu does by default; a model in memory cannot (the thread loads the model from its folder),
 * nor can tfjs-node (`tensorflow`), whose native binding does not load in a second thread of a
 * process (tensorflow/tfjs issues 2079, 3463, 8388).
 */

/**
 * The decision, or an Error naming the option when `generatorThread: true` cannot be honoured.
 *
 * @example
 * ```ts
 * useGeneratorThread(undefined, { folder: true, backend: 'wasm' });       // true
 * useGeneratorThread(undefined, { folder: true, backend: 'tensorflow' }); // false
 * useGeneratorThread(true, { folder: false, backend: 'wasm' });           // throws
 * ```
 */
export function useGeneratorThread(option: unknown, { folder, backend }: { folder: boolean; backend: string }):
    boolean {
  if (option !== undefined && typeof option !== 'boolean') {
    throw new Error(`'generatorThread' passed to 'createServer' must be true or false, got ` +
      `${String(option)}`);
  }
  const native = backend === 'tensorflow';
  if (option === true && !folder) {
    throw new Error(`'generatorThread' passed to 'createServer' needs a model folder (the ` +
      `thread loads the model itself); a model in memory runs on the server's thread ` +
      `(generatorThread: false)`);
  }
  if (option === true && native) {
    throw new Error(`'generatorThread' passed to 'createServer' cannot be used with the ` +
      `'tensorflow' backend (tfjs-node does not load in a second thread of a process); use ` +
      `generatorThread: false (--generator-thread off), or the wasm backend`);
  }
  return option ?? (folder && !native);
}
