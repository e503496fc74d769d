/**
 * duet-tf's `DuetGruEncode` kernels: the GRU's input projection `x·W + b` and its masked
 * recurrence (`DuetGruSequence`) as one kernel, for inference. On cpu and wasm it runs the two
 * kernels the backend already has, one after the other (the same values as calling them in
 * turn); the wasm backend's SIMD fast path (backend/kernels/GruEncodeSimd.ts) fuses them, so
 * that only valid steps are projected and no `[batch, time, 3·units]` projection is stored.
 */
import * as tf from '@tensorflow/tfjs-core';

import { GRU_SEQUENCE, planGruSequence } from './gru_sequence_impl';

/**
 * Name of the kernel: inputs `x` (`[batch, time, dim]`), `kernel` (`[dim, 3·units]`), `bias`
 * (`[3·units]`), `recurrent` (`[units, 3·units]`) and `mask` (`[batch, time]`, non-zero =
 * valid), gates in Keras order (update, reset, candidate); output the state after the last valid
 * step, `[batch, units]` (float32), as `DuetGruSequence` of `x·kernel + bias` gives it.
 *
 * @example
 * ```ts
 * const h = tf.engine().runKernel(GRU_ENCODE, { x, kernel, bias, recurrent, mask }, {});
 * ```
 */
export const GRU_ENCODE = 'DuetGruEncode';

/**
 * Sizes of one `DuetGruEncode` call, checked.
 *
 * @example
 * ```ts
 * const plan: GruEncodePlan = planGruEncode([2, 5, 8], [8, 12], [12], [4, 12], [2, 5]);
 * ```
 */
export interface GruEncodePlan {
  batch: number;
  time: number;
  dim: number;
  units: number;
}

const show = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Checks the input shapes of `DuetGruEncode` and returns its sizes.
 *
 * @example
 * ```ts
 * planGruEncode([2, 5, 8], [8, 12], [12], [4, 12], [2, 5]); // { batch: 2, time: 5, dim: 8, units: 4 }
 * ```
 */
export function planGruEncode(xShape: readonly number[], kernelShape: readonly number[],
    biasShape: readonly number[], recurrentShape: readonly number[], maskShape: readonly number[]):
    GruEncodePlan {
  if (xShape.length !== 3) {
    throw new Error(`'x' passed to '${GRU_ENCODE}' must have shape [batch, time, dim], got ${show(xShape)}`);
  }
  const [batch, time, dim] = xShape;
  const { units } = planGruSequence([batch, time, 3 * (recurrentShape[0] ?? 0)], recurrentShape, maskShape);
  if (kernelShape.length !== 2 || kernelShape[0] !== dim || kernelShape[1] !== 3 * units) {
    throw new Error(`'kernel' passed to '${GRU_ENCODE}' must have shape [${dim}, ${3 * units}], ` +
      `got ${show(kernelShape)}`);
  }
  if (biasShape.length !== 1 || biasShape[0] !== 3 * units) {
    throw new Error(`'bias' passed to '${GRU_ENCODE}' must have shape [${3 * units}], got ${show(biasShape)}`);
  }
  return { batch, time, dim, units };
}

type Inputs = {
  x: tf.TensorInfo; kernel: tf.TensorInfo; bias: tf.TensorInfo; recurrent: tf.TensorInfo; mask: tf.TensorInfo;
};
type Backend = { disposeData(dataId: tf.DataId): unknown };

/** A kernel registered for `backendName`, or a clear error. */
function kernelOf(name: string, backendName: string): tf.KernelFunc {
  const config = tf.getKernel(name, backendName);
  if (config == null) throw new Error(`'${GRU_ENCODE}' needs the '${name}' kernel on '${backendName}'`);
  return config.kernelFunc;
}

/** `DuetGruEncode` as the backend's `_FusedMatMul` (with bias) followed by its `DuetGruSequence`. */
function composed(backendName: string): tf.KernelFunc {
  return ((args: { inputs: Inputs; backend: Backend }) => {
    const { inputs: { x, kernel, bias, recurrent, mask }, backend } = args;
    const { batch, time, dim, units } = planGruEncode(x.shape, kernel.shape, bias.shape, recurrent.shape,
      mask.shape);
    // Views with other shapes share the buffers (the kernels read values by data id).
    const projected = kernelOf(tf._FusedMatMul, backendName)({
      inputs: { a: { ...x, shape: [1, batch * time, dim] }, b: { ...kernel, shape: [1, dim, 3 * units] }, bias },
      backend, attrs: { transposeA: false, transposeB: false, activation: 'linear' },
    } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    try {
      return kernelOf(GRU_SEQUENCE, backendName)({
        inputs: { x: { ...projected, shape: [batch, time, 3 * units] }, recurrent, mask },
        backend, attrs: {},
      } as unknown as Parameters<tf.KernelFunc>[0]);
    } finally {
      backend.disposeData(projected.dataId);
    }
  }) as unknown as tf.KernelFunc;
}

/**
 * Kernel config of `DuetGruEncode` for the `'cpu'` backend (forward only, as `DuetGruSequence`).
 *
 * @example
 * ```ts
 * if (tf.getKernel('DuetGruEncode', 'cpu') == null) tf.registerKernel(gruEncodeCpuConfig);
 * ```
 */
export const gruEncodeCpuConfig: tf.KernelConfig = {
  kernelName: GRU_ENCODE, backendName: 'cpu', kernelFunc: composed('cpu'),
};

/**
 * Kernel config of `DuetGruEncode` for the `'wasm'` backend (forward only); duet-tf's
 * `useBackend` gives it a fused SIMD fast path.
 *
 * @example
 * ```ts
 * if (tf.getKernel('DuetGruEncode', 'wasm') == null) tf.registerKernel(gruEncodeWasmConfig);
 * ```
 */
export const gruEncodeWasmConfig: tf.KernelConfig = {
  kernelName: GRU_ENCODE, backendName: 'wasm', kernelFunc: composed('wasm'),
};
