import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { expectCpuParity, floats, ints, useWasmInThisFile } from '../../helpers/cpu_parity';

useWasmInThisFile();

const OPS = { equal: tf.equal, notEqual: tf.notEqual, greater: tf.greater, greaterEqual: tf.greaterEqual,
  less: tf.less, lessEqual: tf.lessEqual };

describe('SIMD comparisons on wasm', () => {
  it('are installed by useBackend', () => {
    for (const name of [tf.Equal, tf.NotEqual, tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual]) {
      expect(hasFastPath(tf.getKernel(name, 'wasm')), name).toBe(true);
    }
  });

  // 37 values: two 16-lane blocks and a tail; NaN, ±Infinity, -0 and repeats (ties) included.
  const f = (seed: number) => Array.from(floats(37, seed), (v, i) => (i % 5 === 0 ? 0 : v));
  for (const [name, op] of Object.entries(OPS)) {
    it(`${name}: equal shapes, a scalar on either side, float32 and int32, exactly as cpu`, async () => {
      await expectCpuParity(() => {
        const a = tf.tensor2d(f(1), [1, 37]);
        const b = tf.tensor2d(f(1).map((v, i) => (i % 3 === 0 ? v : -v)), [1, 37]);
        const ia = tf.tensor1d(ints(37, 2), 'int32');
        return [op(a, b), op(a, 0), op(tf.scalar(0.25), a), op(ia, tf.tensor1d(ints(37, 3), 'int32')),
          op(ia, tf.scalar(5, 'int32')), op(tf.scalar(-3, 'int32'), ia)];
      });
    });
  }
});
