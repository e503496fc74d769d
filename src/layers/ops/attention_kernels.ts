/**
 * `DuetAttention` and `DuetAttentionGrad` for tfjs-backend-cpu and tfjs-backend-wasm, in
 * JavaScript over the backends' own arrays (see `attention_impl.ts`). On wasm, `useBackend` puts a
 * SIMD fast path in front of both (backend/kernels/AttentionSimd.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';

import {
  ATTENTION, ATTENTION_GRAD, type AttentionAttrs, attentionGradInto, attentionInto, attentionPlan,
} from './attention_impl';
import { kernelIo } from './kernel_io';

type Args = { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs: AttentionAttrs };

const configs = (backendName: 'cpu' | 'wasm'): tf.KernelConfig[] => [
  {
    kernelName: ATTENTION, backendName,
    kernelFunc: (({ inputs: { q, k, v, mask, keep }, backend, attrs }: Args) => {
      const io = kernelIo(backendName, backend);
      const plan = attentionPlan(q.shape, k.shape, v.shape, attrs.hasMask ? mask.shape : null,
        attrs.hasKeep ? keep.shape : null, attrs.numHeads);
      const { infos, values: [out] } = io.outputs([[...q.shape]]);
      attentionInto(io.read(q), io.read(k), io.read(v), attrs.hasMask ? io.read(mask) : null,
        attrs.hasKeep ? io.read(keep) : null, attrs, plan, out);
      return infos[0];
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: ATTENTION_GRAD, backendName,
    kernelFunc: (({ inputs: { dy, q, k, v, mask, keep }, backend, attrs }: Args) => {
      const io = kernelIo(backendName, backend);
      const plan = attentionPlan(q.shape, k.shape, v.shape, attrs.hasMask ? mask.shape : null,
        attrs.hasKeep ? keep.shape : null, attrs.numHeads);
      const { infos, values: [dq, dk, dv] } = io.outputs([[...q.shape], [...k.shape], [...v.shape]]);
      attentionGradInto(io.read(dy), io.read(q), io.read(k), io.read(v), attrs.hasMask ? io.read(mask) : null,
        attrs.hasKeep ? io.read(keep) : null, attrs, plan, dq, dk, dv);
      return infos;
    }) as unknown as tf.KernelFunc,
  },
];

/**
 * Kernel configs of `DuetAttention` and `DuetAttentionGrad` for the `'cpu'` and `'wasm'` backends.
 *
 * @example
 * ```ts
 * for (const c of ATTENTION_KERNELS) if (tf.getKernel(c.kernelName, c.backendName) == null) tf.registerKernel(c);
 * ```
 */
export const ATTENTION_KERNELS: readonly tf.KernelConfig[] = [...configs('cpu'), ...configs('wasm')];
