/**
 * Pieces the sequence losses share: option checks and the logits of rows against items.
 * Browser-safe; internal.
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  MIN_PROBABILITY, SOFTMAX_CROSS_ENTROPY, softmaxCrossEntropyKernelAvailable, softmaxCrossEntropyTableGrad,
  softmaxCrossEntropyUsersGrad,
} from './softmax_cross_entropy_kernel';

/** Throws on option names a loss does not know; returns the options object. */
export function checkLossOptions(options: unknown, known: readonly string[], loss: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`options of the '${loss}' loss must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`unknown option '${key}' of the '${loss}' loss; known: ${known.join(', ') || 'none'}`);
    }
  }
  return options as Record<string, unknown>;
}

/** `value` checked to be an integer ≥ `min` (or the default when undefined). */
export function integerOption(value: unknown, fallback: number, min: number, name: string, loss: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`'${name}' of the '${loss}' loss must be an integer >= ${min}, got ${String(v)}`);
  }
  return v as number;
}

/** `value` checked to be a finite number ≥ `min` (or the default when undefined). */
export function numberOption(value: unknown, fallback: number, min: number, name: string, loss: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new Error(`'${name}' of the '${loss}' loss must be a number >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** Row-wise `⟨users[i], vectors[i]⟩ + bias[i]`: `[rows]` logits of paired rows. */
export function pairedLogits(users: tf.Tensor2D, vectors: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor1D {
  const dots = tf.sum(tf.mul(users, vectors), 1);
  return (bias === null ? dots : tf.add(dots, bias)) as tf.Tensor1D;
}

/** `users · vectorsᵀ + bias`: `[rows, n]` logits of every row against every one of n items. */
export function allLogits(users: tf.Tensor2D, vectors: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
  const dots = tf.matMul(users, vectors, false, true);
  return (bias === null ? dots : tf.add(dots, tf.reshape(bias, [1, -1]))) as tf.Tensor2D;
}

/** `log(1 + exp(x))` without overflow: `max(x, 0) + log1p(exp(−|x|))`. */
export function softplus(x: tf.Tensor): tf.Tensor {
  return tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
}

/**
 * `log Σ_j exp(x[i, j])` per row of `x [rows, n]`, stable (the row max is taken out first), with
 * its gradient written directly as `softmax(x) · dy`: tfjs's own `logSumExp` differentiates its
 * max, broadcast subtraction, sum and log op by op, 5–6× slower on wasm.
 */
export const logSumExpRows = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const max = tf.max(x, 1, true);
    const value = tf.add(tf.log(tf.sum(tf.exp(tf.sub(x, max)), 1)), tf.reshape(max, [-1]));
    save([x]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(tf.softmax(saved[0]), tf.reshape(dy, [-1, 1]))],
    };
  }) as never) as (x: tf.Tensor) => tf.Tensor1D;

/**
 * The mean over rows of `−log softmax(users · table)[i, target_i]`, with `table [dim, n]` (items
 * as columns) and `targets` int32 column indices, its gradient written by hand (see
 * `softmaxCrossEntropyUsersGrad`, `softmaxCrossEntropyTableGrad`): on cpu and wasm one kernel whose gradient keeps the softmax
 * (`DuetSoftmaxCrossEntropy`), elsewhere {@link meanSoftmaxCrossEntropyByOps}.
 *
 * @example
 * ```ts
 * const loss = meanSoftmaxCrossEntropy(users, table, targets); // a scalar
 * ```
 */
export function meanSoftmaxCrossEntropy(users: tf.Tensor2D, table: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  if (!softmaxCrossEntropyKernelAvailable()) return meanSoftmaxCrossEntropyByOps(users, table, targets);
  const [value, p] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, { users, table, targets }) as tf.Tensor[];
  p.dispose(); // the gradient keeps its own reference while a tape records
  return value as tf.Scalar;
}

/**
 * {@link meanSoftmaxCrossEntropy} as tensor ops with a custom gradient, for any backend. The
 * backward pass recomputes P from the inputs: a custom gradient may only keep its inputs.
 *
 * @example
 * ```ts
 * const loss = meanSoftmaxCrossEntropyByOps(users, table, targets);
 * ```
 */
export const meanSoftmaxCrossEntropyByOps = tf.customGrad(
  ((users: tf.Tensor, table: tf.Tensor, targets: tf.Tensor, save: tf.GradSaveFunc) => {
    const rows = users.shape[0];
    const indices = tf.stack([tf.range(0, rows, 1, 'int32'), targets], 1);
    const own = tf.gatherND(tf.softmax(tf.matMul(users, table)), indices);
    const value = tf.neg(tf.mean(tf.log(tf.maximum(own, MIN_PROBABILITY))));
    save([users, table, targets]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [u, t, target] = saved;
        const p = tf.softmax(tf.matMul(u, t));
        return [softmaxCrossEntropyUsersGrad(dy, t, target, p), softmaxCrossEntropyTableGrad(dy, u, target, p),
          tf.zerosLike(target)];
      },
    };
  }) as never) as (users: tf.Tensor2D, table: tf.Tensor2D, targets: tf.Tensor1D) => tf.Scalar;
