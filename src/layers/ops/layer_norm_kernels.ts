/**
 * `DuetLayerNorm` and `DuetLayerNormGrad` for tfjs-backend-cpu and tfjs-backend-wasm, in
 * JavaScript over the backends' own arrays (see `layer_norm_impl.ts`). On wasm, `useBackend` puts
 * a SIMD fast path in front of both (backend/kernels/LayerNormSimd.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';

import { type KernelIo, kernelIo } from './kernel_io';
import {
  LAYER_NORM, LAYER_NORM_GRAD, layerNormGradInto, layerNormInto, layerNormPlan,
} from './layer_norm_impl';

type Inputs = Record<string, tf.TensorInfo>;

function forward(io: KernelIo, { x, gamma, beta }: Inputs, epsilon: number): tf.TensorInfo {
  const plan = layerNormPlan(x.shape, gamma.shape, beta.shape);
  const { infos, values: [y] } = io.outputs([[...x.shape]]);
  layerNormInto(io.read(x), io.read(gamma), io.read(beta), epsilon, plan, y);
  return infos[0];
}

function gradient(io: KernelIo, { dy, x, gamma }: Inputs, epsilon: number): tf.TensorInfo[] {
  const plan = layerNormPlan(x.shape, gamma.shape, gamma.shape);
  const { infos, values: [dx, dgamma, dbeta] } = io.outputs([[...x.shape], [plan.d], [plan.d]]);
  layerNormGradInto(io.read(dy), io.read(x), io.read(gamma), epsilon, plan, dx, dgamma, dbeta);
  return infos;
}

type Args<B> = { inputs: Inputs; backend: B; attrs: { epsilon?: number } };

const configs = (backendName: 'cpu' | 'wasm'): tf.KernelConfig[] => [
  {
    kernelName: LAYER_NORM, backendName,
    kernelFunc: ((a: Args<unknown>) =>
      forward(kernelIo(backendName, a.backend), a.inputs, Number(a.attrs.epsilon))) as unknown as tf.KernelFunc,
  },
  {
    kernelName: LAYER_NORM_GRAD, backendName,
    kernelFunc: ((a: Args<unknown>) =>
      gradient(kernelIo(backendName, a.backend), a.inputs, Number(a.attrs.epsilon))) as unknown as tf.KernelFunc,
  },
];

/**
 * Kernel configs of `DuetLayerNorm` and `DuetLayerNormGrad` for the `'cpu'` and `'wasm'` backends.
 *
 * @example
 * ```ts
 * for (const c of LAYER_NORM_KERNELS) if (tf.getKernel(c.kernelName, c.backendName) == null) tf.registerKernel(c);
 * ```
 */
export const LAYER_NORM_KERNELS: readonly tf.KernelConfig[] = [
  ...configs('cpu'),
  ...configs('wasm'),
];
