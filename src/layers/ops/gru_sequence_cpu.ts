/**
 * `DuetGruSequence` for tfjs-backend-cpu: a whole masked GRU recurrence in one kernel
 * (inference only; see `gru_sequence_impl.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { GRU_SEQUENCE, gruSequenceInto, planGruSequence } from './gru_sequence_impl';

function gruSequenceCpu(args: {
  inputs: { x: tf.TensorInfo; recurrent: tf.TensorInfo; mask: tf.TensorInfo };
  backend: MathBackendCPU;
}): tf.TensorInfo {
  const { inputs: { x, recurrent, mask }, backend } = args;
  const plan = planGruSequence(x.shape, recurrent.shape, mask.shape);
  const values = (t: tf.TensorInfo) => backend.data.get(t.dataId).values as ArrayLike<number>;
  const out = new Float32Array(plan.batch * plan.units);
  gruSequenceInto(values(x), values(recurrent), values(mask), plan, out);
  return backend.makeTensorInfo([plan.batch, plan.units], 'float32', out);
}

/**
 * Kernel config of `DuetGruSequence` for the `'cpu'` backend (forward only: no gradient is
 * registered, the GRU layers run it only while no gradient tape records).
 *
 * @example
 * ```ts
 * if (tf.getKernel('DuetGruSequence', 'cpu') == null) tf.registerKernel(gruSequenceCpuConfig);
 * ```
 */
export const gruSequenceCpuConfig: tf.KernelConfig = {
  kernelName: GRU_SEQUENCE,
  backendName: 'cpu',
  kernelFunc: gruSequenceCpu as unknown as tf.KernelFunc,
};
