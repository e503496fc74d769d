import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

describe('importing duet-tf', () => {
  it('fills the wasm kernel gap and the comparison-op gradients without replacing cpu kernels', async () => {
    const cpuSegmentSum = tf.getKernel('UnsortedSegmentSum', 'cpu');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    await import('../../src/index');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(tf.getGradient('Greater')).toBeDefined();
    // cpu's own kernel stays until the app opts in with useBackend / registerDuetKernels.
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBe(cpuSegmentSum);
  });
});
