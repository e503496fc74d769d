/**
 * Top-K over a catalogue: time per `recommend` query (k = 10) over catalogues of 10k, 100k and 1M
 * items, each with a model built with numItems = the catalogue size.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type ModelKind, type ModelVariant, recommend } from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, modelLabel, record, summarize, tick,
} from './common';

/** Options of {@link benchTopK}. */
export interface TopKBenchOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  /** Catalogue sizes and the number of timed queries at each. */
  catalogues: ReadonlyArray<{ items: number; queries: number }>;
  k: number;
}

/** Defaults: SASRec base and DUET; 10k ×3, 100k ×1, 1M ×1 queries (quick: 10k ×1). */
export function topKBenchDefaults(quick: boolean): TopKBenchOptions {
  return {
    models: ['sasrec'], variants: ['base', 'duet'], k: 10,
    catalogues: quick
      ? [{ items: 10_000, queries: 1 }]
      : [{ items: 10_000, queries: 3 }, { items: 100_000, queries: 1 }, { items: 1_000_000, queries: 1 }],
  };
}

/** Time per top-K query for each model, variant and catalogue size. */
export async function benchTopK(ctx: BenchContext, overrides: Partial<TopKBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...topKBenchDefaults(ctx.quick), ...overrides };
  const ds = ctx.data.test;
  const L = ds.clickLength;
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    for (const variant of o.variants) {
      for (const { items, queries } of o.catalogues) {
        ctx.log(`topk ${modelLabel(kind, variant)}: ${queries} queries over ${items} items`);
        const model = buildModel({ model: kind, variant, numItems: items, clickLength: L });
        try {
          // Histories from the data (ids stay valid: the catalogue is at least that large).
          const history = (q: number) => Array.from(ds.click.subarray((q % ds.size) * L, (q % ds.size) * L + L))
            .map((id) => (id > items ? 1 + (id % items) : id));
          // Warm-up on one batch of the catalogue: same batch shape, no full pass.
          await recommend(model, history(0), { numItems: Math.min(items, 4096), k: o.k });
          await tick();
          const times: number[] = [];
          for (let q = 0; q < queries; q++) {
            const h = history(q * 50 + 1);
            const started = performance.now();
            await recommend(model, h, { numItems: items, k: o.k, exclude: 'history' });
            times.push(performance.now() - started);
            await tick();
          }
          const s = summarize(times);
          out.push(record(ctx, 'topk', { model: kind, variant, catalogue: items, k: o.k, queries,
            batchSize: 4096 }, {
            msPerQuery: s.meanMs, msPerQueryMin: s.minMs,
            candidatesPerSecond: Math.round((items * 1000) / s.meanMs),
          }));
          ctx.log(`  ${s.meanMs} ms per query (tensors ${tf.memory().numTensors})`);
        } finally {
          freeModel(model);
        }
      }
    }
  }
  return out;
}
