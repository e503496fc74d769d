/**
 * Loader of the `'cpu'` backend (`@tensorflow/tfjs-backend-cpu`, plain JavaScript).
 */
import type { UseBackendOptions } from '../types';

/**
 * Imports `@tensorflow/tfjs-backend-cpu`, which registers the `'cpu'` backend.
 *
 * @example
 * ```ts
 * await loadCpu({});
 * await tf.setBackend('cpu');
 * ```
 */
export async function loadCpu(_options: UseBackendOptions): Promise<void> {
  // Dynamic, like the other backends, so importing duet-tf registers none by itself.
  await import('@tensorflow/tfjs-backend-cpu');
}
