import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import {
  notDifferentiableGradConfigs,
  registerNotDifferentiableGradients,
} from '../../../src/backend/gradients/not_differentiable';

describe('zero gradients of comparison and logical kernels', () => {
  it('are missing from tfjs-core for Greater, so the fix is needed', () => {
    // If tfjs ever registers these, registerNotDifferentiableGradients leaves them alone.
    expect(tf.getGradient(tf.Greater)).toBeUndefined();
  });

  it('let gradients flow through tf.where(tf.greater(...)) and ignore the condition', () => {
    registerNotDifferentiableGradients();
    const x = tf.tensor1d([-2, -0.5, 0.5, 3]);
    const g = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.where(tf.greater(t, 0), tf.mul(t, 3), tf.mul(t, -1))),
    )(x);
    expect(Array.from(g.dataSync())).toEqual([-1, -1, 3, 3]);
    tf.dispose([x, g]);
  });

  it('give zeros shaped like each input, broadcasting included', () => {
    registerNotDifferentiableGradients();
    const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.cast(tf.logicalAnd(tf.less(a, b), tf.notEqual(a, b)), 'float32'), tf.add(a, b))),
    )([tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([2, 2])]);
    expect(ga.shape).toEqual([2, 2]);
    expect(gb.shape).toEqual([2]);
    // d/da of mask·(a+b) is the mask itself: the comparison contributes nothing.
    expect(Array.from(ga.dataSync())).toEqual([1, 0, 0, 0]);
    expect(Array.from(gb.dataSync())).toEqual([1, 0]);
  });

  it('registers only where tfjs-core has none, so a second call changes nothing', () => {
    registerNotDifferentiableGradients();
    const first = notDifferentiableGradConfigs.map((c) => tf.getGradient(c.kernelName));
    registerNotDifferentiableGradients();
    expect(notDifferentiableGradConfigs.map((c) => tf.getGradient(c.kernelName))).toEqual(first);
    // GreaterEqual keeps tfjs-core's own gradient.
    expect(notDifferentiableGradConfigs.map((c) => c.kernelName)).not.toContain(tf.GreaterEqual);
  });
});
