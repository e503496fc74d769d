/**
 * The full-softmax cross-entropy as one kernel with a registered gradient
 * (`DuetSoftmaxCrossEntropy`, cpu and wasm): the forward pass outputs the loss *and* the
 * probabilities `P = softmax(users · table)`, and the gradient keeps `P` (an output it saves) so
 * the backward pass does not recompute the `[rows, dim] · [dim, n]` product and the softmax — a
 * quarter of a full-catalogue training step. (A `tf.customGrad` may keep only its inputs.) The
 * forward pass runs the backend's own BatchMatMul and Softmax kernels (on wasm, duet-tf's fast
 * paths and XNNPACK).
 */
import * as tf from '@tensorflow/tfjs-core';

import { kernelIo } from '../../layers/ops/kernel_io';

/**
 * Name of the kernel: inputs `users [rows, dim]`, `table [dim, n]` (float32), `targets [rows]`
 * (int32 column indices); outputs the mean `−log P[i, target_i]` (a scalar) and `P [rows, n]`.
 *
 * @example
 * ```ts
 * const [loss, p] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, { users, table, targets }) as tf.Tensor[];
 * ```
 */
export const SOFTMAX_CROSS_ENTROPY = 'DuetSoftmaxCrossEntropy';

/** Smallest probability the loss takes the log of (float32 softmax can underflow to 0). */
export const MIN_PROBABILITY = 1e-30;

type Inputs = Record<string, tf.TensorInfo>;

function forward(backendName: 'cpu' | 'wasm', inputs: Inputs, backend: unknown): tf.TensorInfo[] {
  const { users, table, targets } = inputs;
  if (users.shape.length !== 2 || table.shape.length !== 2 || targets.shape.length !== 1 ||
      users.shape[1] !== table.shape[0] || targets.shape[0] !== users.shape[0] ||
      users.dtype !== 'float32' || table.dtype !== 'float32' || targets.dtype !== 'int32') {
    throw new Error(`${SOFTMAX_CROSS_ENTROPY}: needs users [rows, dim], table [dim, n] (float32) and int32 targets [rows], ` +
      `got ${JSON.stringify(users.shape)}, ${JSON.stringify(table.shape)}, ${JSON.stringify(targets.shape)} ${targets.dtype}`);
  }
  const [rows, n] = [users.shape[0], table.shape[1]];
  const run = (name: string, ins: Inputs, attrs: tf.NamedAttrMap) =>
    tf.getKernel(name, backendName)!.kernelFunc({ inputs: ins, backend: backend as tf.KernelBackend, attrs }) as tf.TensorInfo;
  const logits = run(tf.BatchMatMul, { a: users, b: table }, { transposeA: false, transposeB: false });
  const p = run(tf.Softmax, { logits }, { dim: 1 });
  (backend as tf.KernelBackend).disposeData(logits.dataId);
  const io = kernelIo(backendName, backend);
  const { infos: [loss], values: [value] } = io.outputs([[]]);
  const probabilities = io.read(p);
  const target = io.read(targets);
  let sum = 0;
  for (let i = 0; i < rows; i++) {
    const t = target[i];
    if (!(t >= 0 && t < n)) throw new Error(`${SOFTMAX_CROSS_ENTROPY}: target ${t} of row ${i} is outside [0, ${n})`);
    sum += Math.log(Math.max(probabilities[i * n + t], MIN_PROBABILITY));
  }
  value[0] = rows > 0 ? -sum / rows : 0;
  return [loss, p];
}

/**
 * `d users = (P · tableᵀ − table[:, targets]ᵀ) / rows · dy`: the one-hot part of
 * `G = P − onehot(targets)` as a gather over `[rows, dim]`, so only the product touches `[rows, n]`.
 *
 * @example
 * ```ts
 * const dUsers = softmaxCrossEntropyUsersGrad(dy, table, targets, p);
 * ```
 */
export function softmaxCrossEntropyUsersGrad(dy: tf.Tensor, table: tf.Tensor, targets: tf.Tensor, p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sub(tf.matMul(p, table, false, true), tf.transpose(tf.gather(table, targets, 1))),
    tf.div(dy, p.shape[0])));
}

/**
 * `d table = (usersᵀ · P − Σ_{i: target_i = j} users[i]) / rows · dy`: the one-hot part as a
 * segment sum over `[rows, dim]`.
 *
 * @example
 * ```ts
 * const dTable = softmaxCrossEntropyTableGrad(dy, users, targets, p);
 * ```
 */
export function softmaxCrossEntropyTableGrad(dy: tf.Tensor, users: tf.Tensor, targets: tf.Tensor, p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sub(tf.matMul(users, p, true, false),
    tf.transpose(tf.unsortedSegmentSum(users, targets as tf.Tensor1D, p.shape[1] as number))), tf.div(dy, p.shape[0] as number)));
}

/**
 * The kernel's gradient: saves the inputs and the `P` output.
 *
 * @example
 * ```ts
 * tf.registerGradient(softmaxCrossEntropyGradConfig);
 * ```
 */
export const softmaxCrossEntropyGradConfig: tf.GradConfig = {
  kernelName: SOFTMAX_CROSS_ENTROPY,
  inputsToSave: ['users', 'table', 'targets'],
  outputsToSave: [false, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [users, table, targets, p] = saved;
    const dLoss = (dy as tf.Tensor[])[0];
    return {
      users: () => softmaxCrossEntropyUsersGrad(dLoss, table, targets, p),
      table: () => softmaxCrossEntropyTableGrad(dLoss, users, targets, p),
      targets: () => tf.zerosLike(targets),
    };
  },
};

const config = (backendName: 'cpu' | 'wasm'): tf.KernelConfig => ({
  kernelName: SOFTMAX_CROSS_ENTROPY, backendName,
  kernelFunc: ((a: { inputs: Inputs; backend: unknown }) => forward(backendName, a.inputs, a.backend)) as unknown as tf.KernelFunc,
});

/**
 * Registers the kernel (cpu, wasm) and its gradient where missing; whether the current backend
 * has it.
 *
 * @example
 * ```ts
 * if (softmaxCrossEntropyKernelAvailable()) tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, inputs);
 * ```
 */
export function softmaxCrossEntropyKernelAvailable(): boolean {
  for (const c of [config('cpu'), config('wasm')]) {
    if (tf.getKernel(c.kernelName, c.backendName) == null) tf.registerKernel(c);
  }
  if (tf.getGradient(SOFTMAX_CROSS_ENTROPY) == null) tf.registerGradient(softmaxCrossEntropyGradConfig);
  const backend = tf.getBackend();
  return backend != null && tf.getKernel(SOFTMAX_CROSS_ENTROPY, backend) != null &&
    tf.getKernel(tf.BatchMatMul, backend) != null && tf.getKernel(tf.Softmax, backend) != null;
}
