/**
 * `DuetAdam` for tfjs-backend-cpu and tfjs-backend-wasm, in JavaScript over the backends' own
 * arrays (see `adam_impl.ts`). On wasm, `useBackend` puts a SIMD fast path in front of it
 * (backend/kernels/AdamSimd.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

import { type KernelIo, kernelIo } from '../../layers/ops/kernel_io';
import { ADAM, type AdamAttrs, adamInto } from './adam_impl';

type Inputs = Record<string, tf.TensorInfo>;

/** Shapes and dtypes of a call, checked (the kernel is internal, but a wrong call must not write out of bounds). */
export function checkAdamInputs({ w, g, m, v, scale }: Inputs): void {
  const size = tf.util.sizeFromShape(w.shape);
  for (const [name, t] of Object.entries({ g, m, v })) {
    if (t === undefined || t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== size) {
      throw new Error(`${ADAM}: input '${name}' must be float32 with the ${size} values of 'w'`);
    }
  }
  if (w.dtype !== 'float32') throw new Error(`${ADAM}: 'w' must be float32, got ${w.dtype}`);
  if (scale === undefined || scale.dtype !== 'float32' || tf.util.sizeFromShape(scale.shape) !== 1) {
    throw new Error(`${ADAM}: input 'scale' must be a float32 scalar`);
  }
}

function update(io: KernelIo, inputs: Inputs, attrs: AdamAttrs): tf.TensorInfo[] {
  checkAdamInputs(inputs);
  const { w, g, m, v, scale } = inputs;
  const shape = [...w.shape];
  const { infos, values: [w1, m1, v1] } = io.outputs([shape, shape, shape]);
  adamInto(io.read(w), io.read(g), io.read(m), io.read(v), io.read(scale)[0], attrs, w1, m1, v1);
  return infos;
}

type Args = { inputs: Inputs; backend: unknown; attrs: AdamAttrs };

const config = (backendName: 'cpu' | 'wasm'): tf.KernelConfig => ({
  kernelName: ADAM, backendName,
  kernelFunc: ((a: Args) => update(kernelIo(backendName, a.backend), a.inputs, a.attrs)) as unknown as tf.KernelFunc,
});

/**
 * Kernel configs of `DuetAdam` for the `'cpu'` and `'wasm'` backends.
 *
 * @example
 * ```ts
 * for (const c of ADAM_KERNELS) if (tf.getKernel(c.kernelName, c.backendName) == null) tf.registerKernel(c);
 * ```
 */
export const ADAM_KERNELS: readonly tf.KernelConfig[] = [config('cpu'), config('wasm')];

/**
 * Registers the kernels where missing (cheap after the first call).
 *
 * @example
 * ```ts
 * registerAdamKernels();
 * ```
 */
export function registerAdamKernels(): void {
  for (const c of ADAM_KERNELS) {
    if (tf.getKernel(c.kernelName, c.backendName) == null) tf.registerKernel(c);
  }
}

// At import too, so that `useBackend` (run after importing duet-tf) can give the wasm kernel its
// SIMD fast path.
registerAdamKernels();
