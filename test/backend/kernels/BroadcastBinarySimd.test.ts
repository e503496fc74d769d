import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { broadcastLayout } from '../../../src/backend/kernels/BroadcastBinarySimd';
import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { expectCpuParity, floats, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const x = (shape: number[], seed = 1) => tf.tensor(floats(size(shape), seed), shape);

describe('row/column-broadcast Add, Sub, Multiply, RealDiv on wasm', () => {
  it('is installed by useBackend', () => {
    for (const name of [tf.Add, tf.Sub, tf.Multiply, tf.RealDiv]) {
      expect(hasFastPath(tf.getKernel(name, 'wasm')), name).toBe(true);
    }
  });

  it('recognises per-column and per-row broadcasts only', () => {
    expect(broadcastLayout([4, 3, 8], [8])).toEqual({ perRow: false, rows: 12, cols: 8 });
    expect(broadcastLayout([4, 3, 8], [1, 3, 8])).toEqual({ perRow: false, rows: 4, cols: 24 });
    expect(broadcastLayout([4, 3, 8], [4, 3, 1])).toEqual({ perRow: true, rows: 12, cols: 8 });
    expect(broadcastLayout([4, 3, 8], [4, 1, 1])).toEqual({ perRow: true, rows: 4, cols: 24 });
    expect(broadcastLayout([4, 3, 8], [3, 1])).toBeNull(); // repeats over the batch and the columns
    expect(broadcastLayout([4, 3, 8], [4, 1, 8])).toBeNull();
    expect(broadcastLayout([4, 3, 8], [4, 3, 8])).toBeNull();
    expect(broadcastLayout([6, 2], [2])).toBeNull(); // rows shorter than a vector
  });

  // Values include NaN, ±Infinity and -0; one float32 operation per element, as cpu: exact.
  const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div };
  for (const [name, op] of Object.entries(ops)) {
    it(`${name}: bias, position table and per-row scale, either operand order, exactly as cpu`, async () => {
      await expectCpuParity(() => [
        op(x([3, 5, 9]), x([9], 2)),
        op(x([1, 5, 9], 3), x([2, 5, 9], 4)),
        op(x([3, 5, 9]), x([3, 5, 1], 5)),
        op(x([3, 5, 1], 6), x([3, 5, 9], 7)),
        op(x([2, 7]), x([2, 7], 8)), // equal shapes: the original kernel
      ]);
    });
  }

  it('gives the cpu gradients of a broadcast product', async () => {
    await expectCpuParity(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.div(a, b), a)))(
      [tf.abs(x([4, 6, 8])), tf.add(tf.abs(x([4, 6, 1], 2)), 1)]), 1e-5);
  });
});
