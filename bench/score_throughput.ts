/**
 * Scoring throughput: samples/s of `scoreDataset` (inference mode) at batch 1024, for base and
 * DUET SASRec, GRU4Rec and DIN.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type ModelKind, type ModelVariant, scoreDataset } from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, firstRows, freeModel, measure, MODEL_KINDS, modelLabel,
  perSecond, record, tick,
} from './common';

/** Options of {@link benchScore}. */
export interface ScoreBenchOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  batchSize: number;
  /** Rows scored in the timed pass (test rows, repeated if there are fewer). */
  rows: number;
}

/** Defaults: every model, both variants, batch 1024, 20 batches (quick: 2). */
export function scoreBenchDefaults(quick: boolean): ScoreBenchOptions {
  return { models: MODEL_KINDS, variants: ['base', 'duet'], batchSize: 1024, rows: 1024 * (quick ? 2 : 20) };
}

/**
 * Rows per second of one `scoreDataset` pass over `rows` rows at `batchSize`, after an untimed
 * pass over one batch.
 */
export async function timeScoring(ctx: BenchContext, kind: ModelKind, variant: ModelVariant,
    batchSize: number, rows: number):
    Promise<{ samplesPerSecond: number; samplesPerCpuSecond: number; ms: number }> {
  const model = buildModel({ model: kind, variant, numItems: ctx.data.numItems,
    clickLength: ctx.data.test.clickLength });
  try {
    const ds = firstRows(ctx.data.test, rows);
    await scoreDataset(model, firstRows(ctx.data.test, Math.min(rows, batchSize * 2)), { batchSize });
    await tick();
    const { ms, cpuMs } = await measure(() => scoreDataset(model, ds, { batchSize }));
    return { samplesPerSecond: perSecond(rows, ms), samplesPerCpuSecond: perSecond(rows, cpuMs), ms };
  } finally {
    freeModel(model);
  }
}

/** Scoring throughput of each model and variant at batch 1024. */
export async function benchScore(ctx: BenchContext, overrides: Partial<ScoreBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...scoreBenchDefaults(ctx.quick), ...overrides };
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    for (const variant of o.variants) {
      ctx.log(`score ${modelLabel(kind, variant)}: ${o.rows} rows, batch ${o.batchSize}`);
      const { samplesPerSecond, samplesPerCpuSecond, ms } =
        await timeScoring(ctx, kind, variant, o.batchSize, o.rows);
      out.push(record(ctx, 'score', {
        model: kind, variant, batchSize: o.batchSize, rows: o.rows, numItems: ctx.data.numItems,
        data: ctx.data.source,
      }, { samplesPerSecond, samplesPerCpuSecond, seconds: Number((ms / 1000).toFixed(3)) }));
      ctx.log(`  ${samplesPerSecond} samples/s (tensors ${tf.memory().numTensors})`);
    }
  }
  return out;
}
