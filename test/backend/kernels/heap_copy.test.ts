import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

import { hasFastPath } from '../../../src/backend/kernels/fast_path';
import { heapSlice } from '../../../src/backend/kernels/SliceWasm';
import { registerDuetKernels } from '../../../src/backend/register_kernels';
import { bits, expectCpuParity, floats, ints, runOn, useWasmInThisFile } from '../../helpers/cpu_parity';

// Slice, StridedSlice, Unpack and SplitV on wasm copy straight from the heap (heap_copy.ts):
// each is checked against the cpu backend, bit for bit, with no data left behind.

useWasmInThisFile();

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
type Dtype = 'float32' | 'int32' | 'bool';
const DTYPES: Dtype[] = ['float32', 'int32', 'bool'];
const make = (shape: number[], dtype: Dtype, seed = 1): tf.Tensor => {
  const n = size(shape);
  const values = dtype === 'float32' ? floats(n, seed) : dtype === 'int32' ? ints(n, seed) : bits(n, seed);
  return tf.tensor(values, shape, dtype);
};

describe('registration', () => {
  it('wraps Slice, StridedSlice, Unpack, SplitV, GatherV2 and Sum, idempotently', () => {
    const names = [tf.Slice, tf.StridedSlice, tf.Unpack, tf.SplitV, tf.GatherV2, tf.Sum];
    const before = names.map((n) => tf.getKernel(n, 'wasm'));
    expect(before.every(hasFastPath)).toBe(true);
    registerDuetKernels('wasm');
    expect(names.map((n) => tf.getKernel(n, 'wasm'))).toEqual(before);
    expect(heapSlice(before[0]!)).toBe(before[0]);
    expect(() => heapSlice(tf.getKernel(tf.Add, 'wasm')!))
      .toThrow("'original' passed to the Slice fast path must be wasm's Slice kernel, got Add for wasm");
  });
});

describe('the fast paths', () => {
  it('never copy the whole input to JS (the original kernels call readSync for every slice)', async () => {
    await tf.setBackend('wasm');
    const x = make([4, 5, 6], 'float32');
    const readSync = vi.spyOn(tf.backend(), 'readSync');
    try {
      tf.dispose([tf.slice(x, [1, 0, 0], [2, 5, 6]), ...tf.unstack(x, 1), ...tf.split(x, 2, 2),
        tf.stridedSlice(x, [0, 1, 0], [4, 3, 6], [1, 1, 1])]);
      expect(readSync).not.toHaveBeenCalled();
      // Strings still take the original kernel.
      tf.dispose(tf.slice(tf.tensor1d(['a', 'b']), [1], [1]));
      expect(readSync).toHaveBeenCalled();
    } finally {
      readSync.mockRestore();
      x.dispose();
    }
  });
});

describe('Slice on wasm matches cpu', () => {
  const cases: Array<[string, number[], number[], number[]]> = [
    ['rank 1', [10], [3], [4]],
    ['rank 1, size -1', [10], [6], [-1]],
    ['rank 1, size 0', [10], [4], [0]],
    ['rank 2, rows (one block)', [6, 7], [2, 0], [3, 7]],
    ['rank 2, columns (short runs)', [6, 7], [1, 2], [4, 3]],
    ['rank 2, one column', [6, 7], [0, 5], [-1, 1]],
    ['rank 2, long runs', [5, 300], [1, 20], [3, 250]],
    ['rank 2, size 0 rows', [6, 7], [2, 1], [0, 3]],
    ['rank 3, middle axis', [4, 5, 6], [1, 2, 0], [2, 2, 6]],
    ['rank 3, mixed with -1', [4, 5, 6], [1, 0, 2], [2, -1, 3]],
    ['rank 4, trailing axes whole', [3, 4, 5, 6], [1, 1, 0, 0], [1, 2, 5, 6]],
    ['rank 4, general', [3, 4, 5, 6], [1, 1, 2, 1], [2, 3, 2, 4]],
    ['rank 5', [2, 3, 2, 3, 4], [1, 1, 0, 1, 1], [1, 2, 2, 2, 3]],
  ];
  for (const [name, shape, begin, sizes] of cases) {
    for (const dtype of DTYPES) {
      it(`${name}, ${dtype}`, async () => {
        await expectCpuParity(() => tf.slice(make(shape, dtype), begin, sizes));
      });
    }
  }

  it('leaves string tensors to the original kernel', async () => {
    await expectCpuParity(() => tf.slice(tf.tensor2d([['a', 'b', 'c'], ['d', 'e', 'f']]), [0, 1], [2, 2]));
  });

  it('re-reads the heap after allocating (the heap grows and detaches old views)', async () => {
    await tf.setBackend('wasm');
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
    const n = heap().length >>> 2; // as many floats as the heap has bytes
    const x = tf.range(0, n, 1, 'int32');
    const kept: tf.Tensor[] = [];
    let grew = false;
    // Whole-tensor slices until one of them grows the heap.
    for (let i = 0; i < 6 && !grew; i++) {
      const buffer = heap().buffer;
      const part = tf.slice(x, [1], [n - 1]);
      kept.push(part);
      grew = heap().buffer !== buffer;
      const values = part.dataSync();
      expect([values[0], values[n >>> 1], values[n - 2]]).toEqual([1, (n >>> 1) + 1, n - 1]);
    }
    expect(grew).toBe(true);
    tf.dispose([x, ...kept]);
  });
});

describe('StridedSlice on wasm matches cpu', () => {
  const cases: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
    ['unit strides', (x) => tf.stridedSlice(x, [1, 2, 0], [3, 5, 6], [1, 1, 1])],
    ['shrink axis 1', (x) => tf.stridedSlice(x, [0, 2, 0], [4, 3, 6], [1, 1, 1], 0, 0, 0, 0, 2)],
    ['begin and end masks', (x) => tf.stridedSlice(x, [2, 1, 0], [0, 4, 3], [1, 1, 1], 0b001, 0b100)],
    ['negative begin', (x) => tf.stridedSlice(x, [-2, 0, 0], [4, 5, 6], [1, 1, 1])],
    ['identity', (x) => tf.stridedSlice(x, [0, 0, 0], [4, 5, 6], [1, 1, 1])],
    ['stride 2 (original kernel)', (x) => tf.stridedSlice(x, [0, 1, 0], [4, 5, 6], [2, 2, 1])],
    ['empty', (x) => tf.stridedSlice(x, [1, 0, 0], [1, 5, 6], [1, 1, 1])],
  ];
  for (const [name, f] of cases) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      // wasm's own strided kernel writes float32 whatever the dtype: only unit strides for others.
      if (name.startsWith('stride 2') && dtype !== 'float32') continue;
      it(`${name}, ${dtype}`, async () => {
        await expectCpuParity(() => f(make([4, 5, 6], dtype)));
      });
    }
  }
});

describe('Unpack on wasm matches cpu', () => {
  const cases: Array<[string, number[], number]> = [
    ['rank 1 (scalars)', [5], 0],
    ['rank 2, axis 0', [4, 6], 0],
    ['rank 2, axis 1', [4, 6], 1],
    ['rank 3, axis 1 (the GRU steps)', [6, 5, 48], 1],
    ['rank 3, axis -1', [3, 4, 5], -1],
    ['rank 4, axis 2', [2, 3, 4, 5], 2],
    ['empty parts', [0, 3], 1],
  ];
  for (const [name, shape, axis] of cases) {
    for (const dtype of DTYPES) {
      it(`${name}, ${dtype}`, async () => {
        const out = await expectCpuParity(() => tf.unstack(make(shape, dtype), axis));
        expect(out.length).toBe(shape[axis < 0 ? axis + shape.length : axis]);
      });
    }
  }

  it('leaves string tensors to the original kernel', async () => {
    await expectCpuParity(() => tf.unstack(tf.tensor2d([['a', 'b'], ['c', 'd']]), 1));
  });
});

describe('SplitV on wasm matches cpu', () => {
  const cases: Array<[string, number[], number | number[], number]> = [
    ['rank 1, 3 parts', [9], 3, 0],
    ['rank 2, gates along axis 1', [5, 96], 3, 1],
    ['rank 2, sizes with -1', [5, 10], [2, -1, 3], 1],
    ['rank 2, a size-0 part', [5, 10], [4, 0, 6], -1],
    ['rank 3, axis 0', [4, 3, 2], [1, 3], 0],
    ['rank 4, axis 2', [2, 3, 6, 2], 2, 2],
  ];
  for (const [name, shape, splits, axis] of cases) {
    for (const dtype of DTYPES) {
      it(`${name}, ${dtype}`, async () => {
        await expectCpuParity(() => tf.split(make(shape, dtype), Array.isArray(splits) ? [...splits] : splits, axis));
      });
    }
  }
});

describe('gradients through unstack, split and slice', () => {
  it('match cpu for a small GRU-like recurrence', async () => {
    const [batch, time, units] = [3, 4, 5];
    const seq = floats(batch * time * 3 * units, 3).map((v) => (Number.isFinite(v) ? v : 0.5));
    const rec = floats(units * 3 * units, 4).map((v) => (Number.isFinite(v) ? v * 0.5 : 0.1));
    const f = () => tf.grads((x: tf.Tensor, u: tf.Tensor) => {
      const steps = tf.unstack(x, 1);
      const [uz, , uh] = tf.split(u, 3, 1);
      let h = tf.zeros([batch, units]);
      for (const step of steps) {
        const [xz, xr, xh] = tf.split(step, [units, units, -1], 1);
        const z = tf.sigmoid(tf.add(xz, tf.matMul(h, uz)));
        const r = tf.sigmoid(xr);
        const c = tf.tanh(tf.add(xh, tf.matMul(tf.mul(r, h), uh)));
        h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), c));
      }
      // StridedSlice has no gradient in tfjs-core; slice does.
      return tf.sum(tf.mul(h, tf.reshape(tf.slice(x, [0, 1, 1], [-1, 1, units]), [batch, units])));
    })([tf.tensor3d(seq, [batch, time, 3 * units]), tf.tensor2d(rec, [units, 3 * units])]);
    const cpu = await runOn('cpu', f);
    await expectCpuParity(f, 1e-5);
    expect(cpu.flatMap((o) => o.values).some((v) => v !== 0)).toBe(true);
  });
});
