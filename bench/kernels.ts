/**
 * Kernel micro-benchmarks: the ops the profile points at, each timed alone on the current
 * backend at the shapes a DUET-SASRec training step uses (batch 1024, 30 positions, dim 32), so
 * a kernel fix can be measured before and after.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type BenchContext, type BenchRecord, measure, record, round, summarize, tick, timeCalls } from './common';

/** One micro-benchmark: inputs are made once, `run` is timed (its outputs are read and freed). */
interface KernelCase {
  op: string;
  shapes: string;
  /** What it stands for in the models. */
  note: string;
  run: () => tf.Tensor | tf.Tensor[];
}

/** Options of {@link benchKernels}. */
export interface KernelBenchOptions {
  calls: number;
  warmup: number;
}

/** Defaults: 10 timed calls after 2 (quick: 3 after 1). */
export function kernelBenchDefaults(quick: boolean): KernelBenchOptions {
  return { calls: quick ? 3 : 10, warmup: quick ? 1 : 2 };
}

function cases(): { list: KernelCase[]; inputs: tf.Tensor[] } {
  const rows = 1024 * 30;
  const x = tf.randomNormal([rows, 32]);
  const y = tf.randomNormal([rows, 128]);
  const w = tf.randomNormal([32, 128]);
  const seq = tf.randomNormal([1024, 30, 96]);
  const table = tf.randomNormal([10001, 32]);
  const ids = tf.randomUniform([rows], 1, 10000, 'int32');
  const params = tf.randomNormal([1024, 2112]);
  const xs = tf.randomNormal([1024, 32]);
  const z = tf.randomNormal([1024, 32]);
  const decoder = tf.randomNormal([32, 32 * 32]);
  // A copy, not a reshape: tfjs-backend-wasm 4.22 caches its matMul operator by the weight's
  // data id, so one tensor used as `b` under two shapes corrupts the wasm heap (aborts).
  const decoderRows = tf.tidy(() => tf.add(tf.reshape(decoder, [32 * 32, 32]), 0));
  const q = tf.randomNormal([4096, 30, 8]);
  const step = tf.randomNormal([1024, 96]);
  const pooled = tf.randomNormal([1024, 30, 32]);
  const inputs = [x, y, w, seq, table, ids, params, xs, z, decoder, decoderRows, q, step, pooled];
  const list: KernelCase[] = [
    { op: 'matMul plain', shapes: '30720x32 · 32x128', note: 'a sequence-level dense layer, forward',
      run: () => tf.matMul(x, w) },
    { op: 'matMul transposeA', shapes: '30720x32ᵀ · 30720x128', note: 'its kernel gradient Xᵀ·dY',
      run: () => tf.matMul(x, y, true, false) },
    { op: 'transpose + matMul plain', shapes: '(30720x32)ᵀ · 30720x128', note: 'the same product, transposed first',
      run: () => tf.tidy(() => tf.matMul(tf.transpose(x), y)) },
    { op: 'matMul transposeB', shapes: '30720x128 · (32x128)ᵀ', note: 'its input gradient dY·Wᵀ',
      run: () => tf.matMul(y, w, false, true) },
    { op: 'transpose + matMul plain', shapes: '30720x128 · (32x128)ᵀ', note: 'the same product, transposed first',
      run: () => tf.tidy(() => tf.matMul(y, tf.transpose(w))) },
    { op: 'batched matMul transposeB', shapes: '4096x30x8 · (4096x30x8)ᵀ', note: 'attention scores, 1024 × 4 heads',
      run: () => tf.matMul(q, q, false, true) },
    { op: 'unstack', shapes: '1024x30x96 → 30 × 1024x96', note: 'the GRU encoder splitting its projected inputs by step',
      run: () => tf.unstack(seq, 1) },
    { op: 'split', shapes: '1024x96 → 3 × 1024x32', note: 'a GRU step splitting its gate inputs',
      run: () => tf.split(step, 3, 1) },
    { op: 'slice', shapes: '1024x2112 → 1024x1024', note: 'DynamicDense taking its kernel from the parameter vector',
      run: () => tf.slice(params, [0, 0], [1024, 1024]) },
    { op: 'stridedSlice', shapes: '1024x2112 → 1024x1024', note: 'the same slice through StridedSlice',
      run: () => tf.stridedSlice(params, [0, 0], [1024, 1024], [1, 1]) },
    { op: 'gather', shapes: '10001x32 by 30720 ids', note: 'the item embedding of the click sequences',
      run: () => tf.gather(table, ids) },
    { op: 'sum axis 0', shapes: '30720x128 → 128', note: 'a bias gradient',
      run: () => tf.sum(y, 0) },
    { op: 'sum axis 1', shapes: '1024x30x32 → 1024x32', note: 'masked pooling over positions',
      run: () => tf.sum(pooled, 1) },
    { op: 'DynamicDense per-sample', shapes: 'decoder 1024x32 · 32x1024, then 1024x1x32 · 1024x32x32',
      note: 'a full-decoder generated 32→32 layer as computed today',
      run: () => tf.tidy(() => tf.matMul(tf.reshape(xs, [1024, 1, 32]),
        tf.reshape(tf.matMul(z, decoder), [1024, 32, 32]))) },
    { op: 'DynamicDense outer product', shapes: '(x ⊗ z) 1024x1024 · 1024x32',
      note: 'the same layer as one matMul on x ⊗ z (issue 5)',
      run: () => tf.tidy(() => tf.matMul(
        tf.reshape(tf.mul(tf.reshape(z, [1024, 32, 1]), tf.reshape(xs, [1024, 1, 32])), [1024, 1024]),
        decoderRows)) },
  ];
  return { list, inputs };
}

/** Times each kernel case. */
export async function benchKernels(ctx: BenchContext, overrides: Partial<KernelBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...kernelBenchDefaults(ctx.quick), ...overrides };
  const { list, inputs } = cases();
  const out: BenchRecord[] = [];
  try {
    for (const c of list) {
      ctx.log(`kernel ${c.op} ${c.shapes}`);
      const call = async () => {
        const result = c.run();
        const outputs = Array.isArray(result) ? result : [result];
        await outputs[outputs.length - 1].data();
        tf.dispose(outputs);
      };
      await timeCalls(call, 0, o.warmup);
      const { result: times, cpuMs } = await measure(() => timeCalls(call, o.calls));
      const s = summarize(times);
      // CPU time per call: the least load-sensitive figure on a shared machine.
      out.push(record(ctx, 'kernel', { op: c.op, shapes: c.shapes, note: c.note },
        { p50Ms: s.p50Ms, minMs: s.minMs, cpuMsPerCall: round(cpuMs / s.calls), calls: s.calls }));
      await tick();
    }
  } finally {
    tf.dispose(inputs);
  }
  return out;
}
