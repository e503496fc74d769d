/**
 * Scoring throughput against batch size: samples/s of `scoreDataset` at batch 1, 64 and 1024
 * (what a per-request server sees versus a batch job).
 */
import { type ModelKind, type ModelVariant } from '../src/index';
import { type BenchContext, type BenchRecord, MODEL_KINDS, modelLabel, record } from './common';
import { timeScoring } from './score_throughput';

/** Options of {@link benchScoreScaling}. */
export interface ScoreScalingOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  /** Batch sizes and the number of batches timed at each. */
  batches: ReadonlyArray<{ batchSize: number; count: number }>;
}

/**
 * Defaults: every model, both variants; batch 1 ×500, 64 ×50, 1024 ×10 (quick: SASRec only,
 * ×50, ×5, ×2).
 */
export function scoreScalingDefaults(quick: boolean): ScoreScalingOptions {
  return {
    models: quick ? ['sasrec'] : MODEL_KINDS, variants: ['base', 'duet'],
    batches: [
      { batchSize: 1, count: quick ? 50 : 500 },
      { batchSize: 64, count: quick ? 5 : 50 },
      { batchSize: 1024, count: quick ? 2 : 10 },
    ],
  };
}

/** Scoring throughput at each batch size. */
export async function benchScoreScaling(ctx: BenchContext,
    overrides: Partial<ScoreScalingOptions> = {}): Promise<BenchRecord[]> {
  const o = { ...scoreScalingDefaults(ctx.quick), ...overrides };
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    for (const variant of o.variants) {
      for (const { batchSize, count } of o.batches) {
        const rows = batchSize * count;
        ctx.log(`score-scaling ${modelLabel(kind, variant)}: batch ${batchSize} × ${count}`);
        const { samplesPerSecond, samplesPerCpuSecond } = await timeScoring(ctx, kind, variant, batchSize, rows);
        out.push(record(ctx, 'score-scaling', {
          model: kind, variant, batchSize, rows, numItems: ctx.data.numItems, data: ctx.data.source,
        }, { samplesPerSecond, samplesPerCpuSecond, msPerBatch: Number(((batchSize * 1000) / samplesPerSecond).toFixed(4)) }));
      }
    }
  }
  return out;
}
