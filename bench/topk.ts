/**
 * Top-K over a catalogue: time per `recommend` query (k = 10, the history excluded) over
 * catalogues of 10k, 100k and 1M items, each with a model built with numItems = the catalogue
 * size. For a two-tower model the first query builds the cached item vectors (`firstQueryMs`);
 * the timed queries then cost one user-tower pass and one `[1, dim] · [dim, N]` product.
 */
import * as tf from '@tensorflow/tfjs-core';

import { type ModelKind, type ModelVariant, recommend } from '../src/index';
import { releaseItemVectors } from '../src/eval/item_vectors';
import { splitTwoTower } from '../src/wrap/two_tower';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, measure, modelLabel, record, round,
  summarize, tick,
} from './common';

/** Options of {@link benchTopK}. */
export interface TopKBenchOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  /** Catalogue sizes and the number of timed queries at each. */
  catalogues: ReadonlyArray<{ items: number; queries: number }>;
  k: number;
}

/** Defaults: SASRec base and DUET; 10k ×30, 100k ×30, 1M ×20 queries (quick: 10k ×3). */
export function topKBenchDefaults(quick: boolean): TopKBenchOptions {
  return {
    models: ['sasrec'], variants: ['base', 'duet'], k: 10,
    catalogues: quick
      ? [{ items: 10_000, queries: 3 }]
      : [{ items: 10_000, queries: 30 }, { items: 100_000, queries: 30 }, { items: 1_000_000, queries: 20 }],
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
          const twoTower = splitTwoTower(model) !== null;
          // First query: for a two-tower model it builds the item vectors of the catalogue;
          // otherwise one batch of the catalogue (same batch shape, no full pass).
          const first = await measure(() => recommend(model, history(0),
            { numItems: twoTower ? items : Math.min(items, 4096), k: o.k, exclude: 'history' }));
          await tick();
          const times: number[] = [];
          let cpuMs = 0;
          for (let q = 0; q < queries; q++) {
            const h = history(q * 50 + 1);
            const m = await measure(() => recommend(model, h, { numItems: items, k: o.k, exclude: 'history' }));
            times.push(m.ms);
            cpuMs += m.cpuMs;
            await tick();
          }
          const s = summarize(times);
          out.push(record(ctx, 'topk', { model: kind, variant, catalogue: items, k: o.k, queries,
            batchSize: 4096, path: twoTower ? 'two-tower' : 'tiled' }, {
            msPerQuery: s.meanMs, msPerQueryP50: s.p50Ms, msPerQueryP99: s.p99Ms,
            msPerQueryMin: s.minMs, cpuMsPerQuery: round(cpuMs / queries),
            firstQueryMs: round(first.ms), firstQueryCpuMs: round(first.cpuMs),
            candidatesPerSecond: Math.round((items * 1000) / s.meanMs),
          }));
          ctx.log(`  ${s.p50Ms} ms per query p50, first ${round(first.ms)} ms (tensors ${tf.memory().numTensors})`);
        } finally {
          releaseItemVectors(model);
          freeModel(model);
        }
      }
    }
  }
  return out;
}
