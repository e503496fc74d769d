import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { unsortedSegmentSumCpuConfig } from '../../../src/backend/kernels/UnsortedSegmentSumCpu';
import { unsortedSegmentSumWasmConfig } from '../../../src/backend/kernels/UnsortedSegmentSumWasm';
import { planSegmentSum } from '../../../src/backend/kernels/unsorted_segment_sum_impl';
import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { useBackend } from '../../../src/backend/use_backend';

// tfjs-backend-cpu's own kernel, captured before duet-tf replaces it: the reference.
let original: tf.KernelConfig;

beforeAll(() => {
  const registered = tf.getKernel(tf.UnsortedSegmentSum, 'cpu');
  if (registered == null) throw new Error('tfjs-backend-cpu registered no UnsortedSegmentSum');
  expect(registered.kernelFunc).not.toBe(unsortedSegmentSumCpuConfig.kernelFunc);
  original = registered;
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs `f` on cpu with tfjs-backend-cpu's original UnsortedSegmentSum registered. */
function withOriginalCpu<T>(f: () => T): T {
  const current = tf.getKernel(tf.UnsortedSegmentSum, 'cpu');
  tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
  tf.registerKernel(original);
  try {
    return f();
  } finally {
    tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
    if (current != null) tf.registerKernel(current);
  }
}

interface Case {
  name: string;
  x: () => tf.Tensor;
  ids: () => tf.Tensor;
  numSegments: number;
}

/** Seeded pseudo-random floats, so every backend sees the same inputs. */
function floats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const CASES: Case[] = [
  {
    name: 'rank-1 ids over [rows, dim] (the gather gradient)',
    x: () => tf.tensor2d(floats(40 * 6, 1), [40, 6]),
    ids: () => tf.tensor1d(Array.from({ length: 40 }, (_, i) => (i * 7) % 11), 'int32'),
    numSegments: 11,
  },
  {
    name: 'negative and out-of-range ids are dropped',
    x: () => tf.tensor2d(floats(8 * 3, 2), [8, 3]),
    ids: () => tf.tensor1d([0, -1, 2, 5, 2, -7, 4, 3], 'int32'),
    numSegments: 4,
  },
  {
    name: 'rank-1 x',
    x: () => tf.tensor1d([1, 2, 3, 4, 5]),
    ids: () => tf.tensor1d([2, 0, 2, 9, 0], 'int32'),
    numSegments: 3,
  },
  {
    // tfjs-backend-cpu handles ids of rank > 1 only when x has the same rank.
    name: 'rank-2 ids reduce over the first axis only (as tfjs-backend-cpu)',
    x: () => tf.tensor2d(floats(4 * 3, 3), [4, 3]),
    ids: () => tf.tensor2d([[0, 1, 2], [1, 1, 0], [2, -1, 2], [0, 0, 3]], [4, 3], 'int32'),
    numSegments: 3,
  },
  {
    // float32 running sums would drift here; the original sums in float64.
    name: 'one segment summed from thousands of rows (like a padding id)',
    x: () => tf.tensor2d(floats(3000 * 4, 11).map((v) => v + 0.5), [3000, 4]),
    ids: () => tf.tensor1d(Array.from({ length: 3000 }, (_, i) => (i % 10 === 0 ? 2 : 0)), 'int32'),
    numSegments: 3,
  },
  {
    name: 'int32 x sums to float32',
    x: () => tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'),
    ids: () => tf.tensor1d([1, 1, 0], 'int32'),
    numSegments: 2,
  },
  {
    name: 'bool x counts',
    x: () => tf.tensor1d([1, 0, 1, 1], 'bool'),
    ids: () => tf.tensor1d([0, 0, 1, 0], 'int32'),
    numSegments: 2,
  },
];

function run(c: Case): { shape: number[]; dtype: string; values: Float32Array } {
  return tf.tidy(() => {
    const out = tf.unsortedSegmentSum(c.x(), c.ids() as tf.Tensor1D, c.numSegments);
    return { shape: out.shape, dtype: out.dtype, values: out.dataSync() as Float32Array };
  });
}

// Rows are summed in float64 in the original's order, so the values are identical, not close.
function expectSame(actual: Float32Array, expected: Float32Array): void {
  expect(Array.from(actual)).toEqual(Array.from(expected));
}

describe('UnsortedSegmentSum kernels', () => {
  it('are registered by registerDuetKernels, idempotently', async () => {
    await tf.setBackend('cpu');
    registerDuetKernels('cpu');
    registerDuetKernels('cpu');
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'cpu')?.kernelFunc).toBe(
      unsortedSegmentSumCpuConfig.kernelFunc,
    );
    registerDuetKernels('wasm');
    registerDuetKernels('wasm');
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'wasm')?.kernelFunc).toBe(
      unsortedSegmentSumWasmConfig.kernelFunc,
    );
  });

  it.each(CASES)('cpu replacement matches the original: $name', async (c) => {
    await tf.setBackend('cpu');
    registerDuetKernels('cpu');
    const expected = withOriginalCpu(() => run(c));
    const before = tf.memory().numTensors;
    const actual = run(c);
    expect(tf.memory().numTensors).toBe(before);
    expect(actual.shape).toEqual(expected.shape);
    expect(actual.dtype).toBe(expected.dtype);
    expectSame(actual.values, expected.values);
  });

  it.each(CASES)('wasm kernel matches the cpu original: $name', async (c) => {
    await tf.setBackend('cpu');
    const expected = withOriginalCpu(() => run(c));
    expect(await useBackend('wasm')).toBe('wasm');
    const before = tf.memory().numTensors;
    const actual = run(c);
    expect(tf.memory().numTensors).toBe(before);
    expect(actual.shape).toEqual(expected.shape);
    expect(actual.dtype).toBe(expected.dtype);
    expectSame(actual.values, expected.values);
    await tf.setBackend('cpu');
  });

  it('gives the gather gradient on wasm that cpu gives, ids repeated and padded', async () => {
    const table = floats(30 * 4, 9);
    const ids = [[0, 3, 3, 29], [0, 0, 7, 3]];
    const grad = () =>
      tf.tidy(() => {
        const dy = tf.tensor3d(floats(2 * 4 * 4, 10), [2, 4, 4]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor2d(ids, [2, 4], 'int32')), dy)));
        return g(tf.tensor2d(table, [30, 4])).dataSync() as Float32Array;
      });
    await tf.setBackend('cpu');
    const expected = withOriginalCpu(grad);
    await useBackend('wasm');
    const actual = grad();
    await tf.setBackend('cpu');
    expectSame(actual, expected);
    // Row 3 is looked up three times: its gradient is the sum of three dy rows, not one.
    expect(Math.abs(expected[3 * 4])).toBeGreaterThan(0);
  });

  it('extends the first-axis rule to ids of rank 2 over x of rank 3 (where the original throws)', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
      const ids = tf.tensor2d([[1, 0], [1, 5]], [2, 2], 'int32');
      const out = tf.unsortedSegmentSum(x, ids as unknown as tf.Tensor1D, 2);
      expect(out.shape).toEqual([2, 2, 2]);
      // out[s, j] = Σ_i [ids[i, j] = s] · x[i, j]
      expect(Array.from(out.dataSync())).toEqual([0, 0, 3, 4, 6, 8, 0, 0]);
      tf.dispose([x, ids, out]);
    }
    await tf.setBackend('cpu');
  });

  it('keeps a NaN in its own segment (the original spreads it to every segment)', async () => {
    await useBackend('cpu');
    const out = tf.unsortedSegmentSum(tf.tensor1d([NaN, 1, 2]), tf.tensor1d([0, 1, 1], 'int32'), 2);
    expect(Array.from(out.dataSync())).toEqual([NaN, 3]);
    out.dispose();
  });

  it('returns an empty [0, ...] result for numSegments 0 on both backends', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const out = tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 1, 0], 'int32'), 0);
      expect(out.shape).toEqual([0, 2]);
      out.dispose();
    }
    await tf.setBackend('cpu');
  });

  it('names the argument when segmentIds do not start x\'s shape', async () => {
    await useBackend('cpu');
    expect(() => tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 1], 'int32'), 2)).toThrow(
      "'segmentIds' passed to 'UnsortedSegmentSum' must have a shape that starts x's shape [3, 2], got [2]",
    );
  });

  it('plans the flattened shapes', () => {
    expect(planSegmentSum([4, 3, 2], [4, 3], 5)).toEqual({
      outShape: [5, 3, 2],
      rows: 4,
      idsPerRow: 3,
      dim: 2,
      numSegments: 5,
    });
    expect(() => planSegmentSum([4], [4], -1)).toThrow(
      "'numSegments' passed to 'UnsortedSegmentSum' must be a non-negative integer, got -1",
    );
  });
});
