/**
 * The masked GRU recurrence shared by the generator's `'gru'` encoder and the `Gru` layer, in two
 * forms with the same values: while no gradient tape records (predict, serving) one
 * `DuetGruEncode` kernel runs the projection and all steps on cpu and wasm; otherwise a short op chain per step
 * that tfjs can differentiate. The kernels register themselves on first use, here rather than in
 * `backend/`, because the device runtime (which may not import `backend/`) runs GRUs too.
 */
import * as tf from '@tensorflow/tfjs-core';

import { GRU_ENCODE, gruEncodeCpuConfig, gruEncodeWasmConfig } from './gru_encode_kernels';
import { gruSequenceCpuConfig } from './gru_sequence_cpu';
import { GRU_SEQUENCE } from './gru_sequence_impl';
import { gruSequenceWasmConfig } from './gru_sequence_wasm';

/**
 * GRU weights in Keras layout: gates ordered update, reset, candidate.
 *
 * @example
 * ```ts
 * const w: GruWeights = { kernel: tf.zeros([8, 12]), recurrent: tf.zeros([4, 12]), bias: tf.zeros([12]) };
 * ```
 */
export interface GruWeights {
  /** `[dim, 3·units]`. */
  kernel: tf.Tensor2D;
  /** `[units, 3·units]`. */
  recurrent: tf.Tensor2D;
  /** `[3·units]`. */
  bias: tf.Tensor1D;
}

/** Added to the padded steps' gate pre-activation: σ(−1e9) is exactly 0 in float32. */
const PADDING_LOGIT = -1e9;

const KERNELS: readonly tf.KernelConfig[] = [
  gruSequenceCpuConfig, gruSequenceWasmConfig, gruEncodeCpuConfig, gruEncodeWasmConfig,
];

/** Registers the `DuetGruSequence` and `DuetGruEncode` kernels where missing (cheap after the first call). */
function registerKernels(): void {
  for (const config of KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
}

// At import too, so that `useBackend` (run after importing duet-tf) can give the wasm kernel
// its SIMD fast paths (backend/kernels/GruSequenceSimd.ts, GruEncodeSimd.ts).
registerKernels();

/**
 * Whether the one-kernel recurrence can run: no gradient tape records (so no gradient will be
 * asked of the kernel, which has none; `tf.engine().isTapeOn()` is what tfjs-core itself checks
 * before recording an op) and the current backend has the kernel (cpu, wasm).
 */
function canRunKernel(): boolean {
  const engine = tf.engine();
  if (engine.isTapeOn()) return false;
  registerKernels();
  const backend = engine.backendName;
  return backend != null && tf.getKernel(GRU_SEQUENCE, backend) != null;
}

/**
 * GRU over `seq [batch, time, dim]` from `h = 0`, returning the state after the last valid step
 * `[batch, units]`: a step whose `mask [batch, time]` entry is 0 leaves the state unchanged, so
 * padding may sit on the right, the left or in holes; an all-padding row gives zeros. Any
 * non-zero mask entry marks a valid step. `h̃ = tanh(W_h x + U_h (r ⊙ h) + b_h)` (reset gate
 * before the recurrent product, one input-side bias).
 *
 * @example
 * ```ts
 * const h = gruEncode(tf.randomNormal([2, 5, 8]), tf.ones([2, 5]), {
 *   kernel: tf.randomNormal([8, 12]), recurrent: tf.randomNormal([4, 12]), bias: tf.zeros([12]),
 * }); // [2, 4]
 * ```
 */
export function gruEncode(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor2D {
  return tf.tidy(() => (canRunKernel() ? gruByKernel(seq, mask, w) : gruByOps(seq, mask, w)));
}

/**
 * Inference: the input projection and the recurrence in one `DuetGruEncode` kernel where the
 * backend has it (on wasm fused, projecting only the valid steps), else one matMul for every
 * step's projection and the recurrence in one `DuetGruSequence` kernel.
 */
function gruByKernel(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor2D {
  const engine = tf.engine();
  if (tf.getKernel(GRU_ENCODE, engine.backendName) != null) {
    return engine.runKernel(GRU_ENCODE,
      { x: seq, kernel: w.kernel, bias: w.bias, recurrent: w.recurrent, mask }, {}) as tf.Tensor2D;
  }
  const [batch, time, dim] = seq.shape;
  const units = w.recurrent.shape[0];
  const projected = tf.reshape(tf.fused.matMul({
    a: tf.reshape(seq, [batch * time, dim]), b: w.kernel, bias: w.bias,
  }), [batch, time, 3 * units]);
  return engine.runKernel(GRU_SEQUENCE,
    { x: projected, recurrent: w.recurrent, mask }, {}) as tf.Tensor2D;
}

/**
 * The state after every step, `[batch, time, units]`: position t holds the state after the valid
 * steps among 0..t (a padded step repeats the state before it; leading padding gives zeros), so
 * with right padding position t is exactly what {@link gruEncode} returns for the prefix 0..t
 * alone. Differentiable (the op chain of training, also when no tape records).
 *
 * @example
 * ```ts
 * const states = gruStates(tf.randomNormal([2, 5, 8]), tf.ones([2, 5]), {
 *   kernel: tf.randomNormal([8, 12]), recurrent: tf.randomNormal([4, 12]), bias: tf.zeros([12]),
 * }); // [2, 5, 4]
 * ```
 */
export function gruStates(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor3D {
  return tf.tidy(() => {
    const states = gruByOps(seq, mask, w, true);
    return tf.stack(states, 1) as tf.Tensor3D;
  });
}

/**
 * Training: the same recurrence in 13 cheap ops per step (the former chain had ≈ 20), written as
 * `h ← h + g ⊙ (h̃ − h)` with `g = 1 − z = σ(−z_pre)`: the update gate's weights are negated once,
 * and padded steps get {@link PADDING_LOGIT} on that pre-activation, so g = 0 and the state (and
 * its gradient) pass through unchanged without a mask product per step. `h̃ = tanh(a)` is
 * computed as `2σ(2a) − 1`, the 2 folded into the candidate weights: wasm's Tanh is scalar and
 * ≈ 15× slower per element than its (XNNPACK) Sigmoid. Time-major projections make each step's
 * input a contiguous slice. With `everyStep`, the state after each step, in order.
 */
function gruByOps(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights): tf.Tensor2D;
function gruByOps(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights, everyStep: true): tf.Tensor2D[];
function gruByOps(seq: tf.Tensor3D, mask: tf.Tensor2D, w: GruWeights, everyStep = false):
    tf.Tensor2D | tf.Tensor2D[] {
  const [batch, time, dim] = seq.shape;
  const units = w.recurrent.shape[0];
  if (time === 0) return everyStep ? [] : tf.zeros([batch, units]);
  const [kernelZr, kernelH] = tf.split(w.kernel, [2 * units, units], 1);
  const [biasZr, biasH] = tf.split(w.bias, [2 * units, units], 0);
  const [recurrentZr, recurrentH] = tf.split(w.recurrent, [2 * units, units], 1);
  // [−1 … −1 (update gate), 1 … 1 (reset gate)]
  const flip = tf.concat([tf.fill([units], -1), tf.ones([units])]);
  const gateRecurrent = tf.mul(recurrentZr, flip);
  const candidateRecurrent = tf.mul(recurrentH, 2);
  const steps = tf.reshape(tf.transpose(seq, [1, 0, 2]), [time * batch, dim]);
  const padded = tf.reshape(tf.cast(tf.equal(tf.transpose(mask), 0), 'float32'), [time, batch, 1]);
  const gatePenalty = tf.concat([tf.fill([units], PADDING_LOGIT), tf.zeros([units])]);
  const gateInputs = tf.unstack(tf.add(
    tf.reshape(tf.fused.matMul({ a: steps, b: tf.mul(kernelZr, flip), bias: tf.mul(biasZr, flip) }),
      [time, batch, 2 * units]),
    tf.mul(padded, gatePenalty)));
  const candidateInputs = tf.unstack(tf.reshape(tf.fused.matMul({
    a: steps, b: tf.mul(kernelH, 2), bias: tf.mul(biasH, 2),
  }), [time, batch, units]));
  let h: tf.Tensor2D | null = null;
  const all: tf.Tensor2D[] = [];
  for (let t = 0; t < time; t++) {
    // From h = 0 the first step needs no recurrent product.
    const gatePre = h === null ? gateInputs[t] : tf.add(gateInputs[t], tf.matMul(h, gateRecurrent));
    const [g, r] = tf.split(tf.sigmoid(gatePre), 2, 1);
    const candidatePre = h === null ? candidateInputs[t] :
      tf.add(candidateInputs[t], tf.matMul(tf.mul(r, h), candidateRecurrent));
    // 2σ(2a): the candidate tanh(a) plus 1.
    const shifted = tf.mul(tf.sigmoid(candidatePre), 2);
    h = (h === null ? tf.mul(g, tf.sub(shifted, 1)) :
      tf.add(h, tf.mul(g, tf.sub(shifted, tf.add(h, 1))))) as tf.Tensor2D;
    if (everyStep) all.push(h);
  }
  return everyStep ? all : h as tf.Tensor2D;
}
