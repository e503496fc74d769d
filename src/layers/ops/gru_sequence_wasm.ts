/**
 * `DuetGruSequence` for tfjs-backend-wasm: a whole masked GRU recurrence in one kernel
 * (inference only; see `gru_sequence_impl.ts`). Small batches run entirely in JavaScript over
 * the wasm heap. From {@link BLAS_MIN_BATCH} rows each step's two recurrent products and its
 * sigmoids go to wasm's own BatchMatMul and Sigmoid kernels (XNNPACK, SIMD), called directly on
 * heap buffers, and only the elementwise arithmetic stays in JavaScript: ≈ 3× faster than all in
 * JavaScript at batch 256, where the products are ≈ 70 % of the JavaScript cost.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import {
  GRU_SEQUENCE, type GruSequencePlan, gruSequenceInto, planGruSequence,
} from './gru_sequence_impl';

/**
 * Rows from which the recurrent products run in XNNPACK (below, its per-call cost outweighs the
 * JavaScript products: measured crossover 4–8 rows at 32 units).
 *
 * @example
 * ```ts
 * const usesXnnpack = batch >= BLAS_MIN_BATCH;
 * ```
 */
export const BLAS_MIN_BATCH = 8;

type Inputs = { x: tf.TensorInfo; recurrent: tf.TensorInfo; mask: tf.TensorInfo };

function gruSequenceWasm(args: { inputs: Inputs; backend: BackendWasm }): tf.TensorInfo {
  const { inputs, backend } = args;
  const { x, recurrent, mask } = inputs;
  const plan = planGruSequence(x.shape, recurrent.shape, mask.shape);
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm');
  const sigmoid = tf.getKernel(tf.Sigmoid, 'wasm');
  if (plan.batch >= BLAS_MIN_BATCH && matMul != null && sigmoid != null) {
    return gruWithMatMuls(inputs, plan, backend,
      { matMul: matMul.kernelFunc, sigmoid: sigmoid.kernelFunc });
  }
  const out = backend.makeOutput([plan.batch, plan.units], 'float32');
  // Views only after the allocation: growing the heap detaches earlier views.
  const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as ArrayLike<number>;
  gruSequenceInto(view(x), view(recurrent), view(mask), plan,
    backend.typedArrayFromHeap(out) as Float32Array);
  return out;
}

/**
 * The recurrence with `h·U_zr` and `(r ⊙ h)·U_h` computed by wasm's BatchMatMul and the gates by
 * its Sigmoid (vectorised; `tanh(a) = 2σ(2a) − 1`) for the whole batch at each step; the state
 * lives in the output buffer. Same equations and masking as {@link gruSequenceInto}.
 */
function gruWithMatMuls(inputs: Inputs, plan: GruSequencePlan, backend: BackendWasm,
    kernels: { matMul: tf.KernelFunc; sigmoid: tf.KernelFunc }): tf.TensorInfo {
  const { x, recurrent, mask } = inputs;
  const { batch, time, units } = plan;
  const width = 3 * units;
  const gates = 2 * units;
  const f32 = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const state = backend.makeOutput([batch, units], 'float32');
  const reset = backend.makeOutput([batch, units], 'float32');
  const uZr = backend.makeOutput([1, units, gates], 'float32');
  const uH = backend.makeOutput([1, units, units], 'float32');
  {
    const u = backend.typedArrayFromHeap(recurrent) as ArrayLike<number>;
    const zr = f32(uZr);
    const h = f32(uH);
    for (let k = 0; k < units; k++) {
      for (let j = 0; j < gates; j++) zr[k * gates + j] = u[k * width + j];
      for (let j = 0; j < units; j++) h[k * units + j] = u[k * width + gates + j];
    }
    f32(state).fill(0);
    f32(reset).fill(0);
  }
  const run = (kernel: tf.KernelFunc, kernelInputs: Record<string, tf.TensorInfo>,
      attrs: Record<string, unknown> = {}) => kernel({ inputs: kernelInputs, backend, attrs } as
        unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  // BatchMatMul wants rank-3 operands; this view shares the buffer.
  const product = (a: tf.TensorInfo, b: tf.TensorInfo) => run(kernels.matMul,
    { a: { ...a, shape: [1, batch, units] }, b }, { transposeA: false, transposeB: false });
  const valid = new Uint8Array(batch);
  let done = false;
  try {
    for (let t = 0; t < time; t++) {
      let any = false;
      {
        const m = backend.typedArrayFromHeap(mask) as ArrayLike<number>;
        for (let b = 0; b < batch; b++) {
          valid[b] = m[b * time + t] === 0 ? 0 : 1;
          any ||= valid[b] === 1;
        }
      }
      if (!any) continue;
      // z and r: σ(x_zr + h·U_zr). Padded rows are computed too and ignored.
      const gatePre = product(state, uZr);
      {
        const xv = backend.typedArrayFromHeap(x) as ArrayLike<number>;
        const g = f32(gatePre);
        for (let b = 0; b < batch; b++) {
          const src = (b * time + t) * width;
          for (let j = 0; j < gates; j++) g[b * gates + j] += xv[src + j];
        }
      }
      const gate = run(kernels.sigmoid, { x: gatePre });
      backend.disposeData(gatePre.dataId);
      {
        const g = f32(gate);
        const h = f32(state);
        const rh = f32(reset);
        for (let b = 0; b < batch; b++) {
          for (let i = 0; i < units; i++) rh[b * units + i] = g[b * gates + units + i] * h[b * units + i];
        }
      }
      // Candidate: tanh(x_h + (r ⊙ h)·U_h) = 2σ(2·(…)) − 1.
      const candidatePre = product(reset, uH);
      {
        const xv = backend.typedArrayFromHeap(x) as ArrayLike<number>;
        const c = f32(candidatePre);
        for (let b = 0; b < batch; b++) {
          const src = (b * time + t) * width + gates;
          for (let i = 0; i < units; i++) c[b * units + i] = 2 * (c[b * units + i] + xv[src + i]);
        }
      }
      const candidate = run(kernels.sigmoid, { x: candidatePre });
      backend.disposeData(candidatePre.dataId);
      {
        const g = f32(gate);
        const c = f32(candidate);
        const h = f32(state);
        for (let b = 0; b < batch; b++) {
          if (valid[b] === 0) continue;
          for (let i = 0; i < units; i++) {
            const k = b * units + i;
            const z = g[b * gates + i];
            h[k] = z * h[k] + (1 - z) * (2 * c[k] - 1);
          }
        }
      }
      backend.disposeData(gate.dataId);
      backend.disposeData(candidate.dataId);
    }
    done = true;
  } finally {
    // Disposing the weight copies also drops the XNNPACK operators wasm cached on them.
    for (const t of [reset, uZr, uH]) backend.disposeData(t.dataId);
    if (!done) backend.disposeData(state.dataId);
  }
  return state;
}

/**
 * Kernel config of `DuetGruSequence` for the `'wasm'` backend (forward only: no gradient is
 * registered, the GRU layers run it only while no gradient tape records).
 *
 * @example
 * ```ts
 * if (tf.getKernel('DuetGruSequence', 'wasm') == null) tf.registerKernel(gruSequenceWasmConfig);
 * ```
 */
export const gruSequenceWasmConfig: tf.KernelConfig = {
  kernelName: GRU_SEQUENCE,
  backendName: 'wasm',
  kernelFunc: gruSequenceWasm as unknown as tf.KernelFunc,
};
