import * as tf from '@tensorflow/tfjs-core';

import { registerDuetKernels } from '../backend/register_kernels';
import type { BackendName } from '../backend/types';

/**
 * Adds duet-tf's kernels to the current backend when it is one duet-tf knows, so training is
 * fast even when the app chose the backend with `tf.setBackend` rather than `useBackend`
 * (cpu's own embedding gradient is quadratic; wasm has none).
 */
export function ensureDuetKernels(): void {
  const name = tf.getBackend();
  if (name === 'cpu' || name === 'wasm' || name === 'tensorflow') {
    registerDuetKernels(name as BackendName);
  }
}
