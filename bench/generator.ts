/**
 * The cloud side's cost: latency of `splitDuet`'s generator at batch 1 (p50, p99) and its
 * throughput at batch 256 (users/s), for each DUET model and each ParameterGenerator encoder.
 * Throughput is measured on the two paths users take: `generator.predict` (ids tensor → predict →
 * read the parameters) and the generation service's `GeneratorRunner.generate` (request rows →
 * parameters, what `duet-tf serve` runs per micro-batch). Each record also gives users per CPU
 * second of this process and the fastest batch, less sensitive to other load than wall time.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {
  type DuetDataset, type EncoderKind, GeneratorRunner, type ModelKind, splitDuet,
} from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, ENCODERS, freeModel, measure, MODEL_KINDS,
  modelLabel, perSecond, record, round, summarize, tick, timeCalls,
} from './common';

/** A DUET model and generator encoder to measure. */
export interface GeneratorTarget {
  model: ModelKind;
  /** Undefined: the model's default encoder. */
  encoder?: EncoderKind;
}

/** Options of {@link benchGenerator}. */
export interface GeneratorBenchOptions {
  targets: readonly GeneratorTarget[];
  /** Timed calls at batch 1 (after `warmup`). */
  latencyCalls: number;
  warmup: number;
  throughputBatch: number;
  /** Timed calls at `throughputBatch`. */
  throughputCalls: number;
}

/** Every DUET model with its default encoder, then SASRec with each other encoder. */
export function generatorTargets(): GeneratorTarget[] {
  return [
    ...MODEL_KINDS.map((model) => ({ model })),
    ...ENCODERS.filter((e) => e !== 'gru').map((encoder) => ({ model: 'sasrec' as const, encoder })),
  ];
}

/** Defaults: 1000 calls at batch 1, 40 calls at 256 (quick: 200 and 5). */
export function generatorBenchDefaults(quick: boolean): GeneratorBenchOptions {
  return {
    targets: generatorTargets(), latencyCalls: quick ? 200 : 1000, warmup: quick ? 20 : 100,
    throughputBatch: 256, throughputCalls: quick ? 5 : 40,
  };
}

/**
 * Rows `[start, start + n)` (wrapping) of `ds.click` as an `[n, L]` tensor of `dtype` (the
 * models declare float32 id inputs, as tfjs-layers inputs default to).
 */
export function clickBatch(ds: DuetDataset, start: number, n: number,
    dtype: 'float32' | 'int32' = 'float32'): tf.Tensor2D {
  const L = ds.clickLength;
  const out = new Int32Array(n * L);
  for (let i = 0; i < n; i++) {
    const r = (start + i) % ds.size;
    out.set(ds.click.subarray(r * L, r * L + L), i * L);
  }
  return tf.tensor2d(dtype === 'int32' ? out : Float32Array.from(out), [n, L], dtype);
}

/**
 * One generator call: ids → parameters read back. One forward pass: `predict` would otherwise
 * split the batch into passes of 32 rows (its default `batchSize`).
 */
async function generate(generator: tfl.LayersModel, ds: DuetDataset, start: number, n: number):
    Promise<void> {
  const x = clickBatch(ds, start, n);
  const params = generator.predict(x, { batchSize: n }) as tf.Tensor;
  await params.data();
  tf.dispose([x, params]);
}

/** Rows `[start, start + n)` (wrapping) of `ds.click` as service request rows (padding dropped). */
function requestRows(ds: DuetDataset, start: number, n: number): Array<{ kind: 'ids'; ids: number[] }> {
  const L = ds.clickLength;
  return Array.from({ length: n }, (_, i) => {
    const r = (start + i) % ds.size;
    const ids = Array.from(ds.click.subarray(r * L, r * L + L)).filter((id) => id > 0);
    return { kind: 'ids' as const, ids: ids.length > 0 ? ids : [1] };
  });
}

/** Throughput of `call` (one batch of `batch` users per call): wall, per CPU second, fastest batch. */
async function throughput(call: (i: number) => Promise<unknown>, calls: number, batch: number):
    Promise<Record<string, unknown>> {
  let i = 0;
  await timeCalls(() => call(i++), 2);
  const times: number[] = [];
  const { ms, cpuMs } = await measure(async () => {
    for (let c = 0; c < calls; c++) {
      const started = performance.now();
      await call(i++);
      times.push(performance.now() - started);
    }
  });
  const s = summarize(times);
  return {
    usersPerSecond: perSecond(calls * batch, ms),
    usersPerCpuSecond: perSecond(calls * batch, cpuMs),
    msPerBatchP50: s.p50Ms,
    msPerBatchMin: s.minMs,
    usersPerSecondFastestBatch: perSecond(batch, s.minMs),
    cpuShare: round(cpuMs / ms),
  };
}

/** Generator latency (batch 1) and throughput (batch 256, predict and the service runner) per target. */
export async function benchGenerator(ctx: BenchContext,
    overrides: Partial<GeneratorBenchOptions> = {}): Promise<BenchRecord[]> {
  const o = { ...generatorBenchDefaults(ctx.quick), ...overrides };
  const ds = ctx.data.test;
  const out: BenchRecord[] = [];
  for (const target of o.targets) {
    const label = modelLabel(target.model, 'duet', target.encoder);
    const duet = buildModel({ model: target.model, variant: 'duet', numItems: ctx.data.numItems,
      clickLength: ds.clickLength, encoder: target.encoder });
    try {
      const { generator, layout } = splitDuet(duet);
      const encoder = target.encoder ?? 'gru';
      const params = { model: target.model, encoder, paramsPerUser: layout.total, numItems: ctx.data.numItems,
        data: ctx.data.source };
      ctx.log(`generator ${label}: ${o.latencyCalls} calls at batch 1`);
      let row = 0;
      const times = await timeCalls(() => generate(generator, ds, row++, 1), o.latencyCalls, o.warmup);
      out.push(record(ctx, 'generator-latency', { ...params, batchSize: 1 }, summarize(times)));
      await tick();
      const batch = o.throughputBatch;
      ctx.log(`generator ${label}: ${o.throughputCalls} calls at batch ${batch}, predict and runner`);
      out.push(record(ctx, 'generator-throughput', { ...params, path: 'predict', batchSize: batch,
        calls: o.throughputCalls }, await throughput((i) => generate(generator, ds, i * batch, batch),
        o.throughputCalls, batch)));
      await tick();
      const runner = new GeneratorRunner(generator);
      try {
        // Rows are parsed requests; building them is the parser's cost, not timed here.
        const rows = Array.from({ length: 4 }, (_, k) => requestRows(ds, k * batch, batch));
        out.push(record(ctx, 'generator-throughput', { ...params, path: 'runner', batchSize: batch,
          calls: o.throughputCalls }, await throughput((i) => runner.generate(rows[i % rows.length]),
          o.throughputCalls, batch)));
      } finally {
        runner.dispose();
      }
      await tick();
    } finally {
      freeModel(duet);
    }
  }
  return out;
}
