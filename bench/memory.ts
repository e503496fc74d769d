/**
 * Memory across many predictions: `tf.memory()` (tensors, bytes) and process RSS before and after
 * 10,000 predictions (one user, one candidate each) of the DUET model, its generator and its
 * device model. Tensors must not grow; RSS is checked over the second half of the run (after the
 * JIT and the allocators have settled).
 */
import * as tf from '@tensorflow/tfjs-core';

import { type ModelKind, splitDuet } from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, record, rssBytes, tick,
} from './common';
import { deviceScore } from './device_forward';
import { clickBatch } from './generator';

/** What one prediction is. */
export type MemoryPath = 'model' | 'generator' | 'device';

/** Options of {@link benchMemory}. */
export interface MemoryBenchOptions {
  model: ModelKind;
  paths: readonly MemoryPath[];
  /** Predictions per path. */
  predictions: number;
  warmup: number;
  /** RSS growth over the second half above which `grew` is set, in MB. */
  rssToleranceMb: number;
}

/** Defaults: DUET SASRec, all three paths, 10,000 predictions each (quick: 500). */
export function memoryBenchDefaults(quick: boolean): MemoryBenchOptions {
  return { model: 'sasrec', paths: ['model', 'generator', 'device'], predictions: quick ? 500 : 10000,
    warmup: quick ? 50 : 200, rssToleranceMb: 16 };
}

const MB = 1024 * 1024;

function gc(): boolean {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) return false;
  collect();
  return true;
}

/** Tensors and RSS before/after `predictions` predictions, per path. */
export async function benchMemory(ctx: BenchContext, overrides: Partial<MemoryBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...memoryBenchDefaults(ctx.quick), ...overrides };
  const ds = ctx.data.test;
  const out: BenchRecord[] = [];
  const duet = buildModel({ model: o.model, variant: 'duet', numItems: ctx.data.numItems,
    clickLength: ds.clickLength });
  try {
    const { generator, device } = splitDuet(duet);
    const candidates = Int32Array.of(1 + (7 % ctx.data.numItems));
    const params = tf.tidy(() => (generator.predict(clickBatch(ds, 0, 1)) as tf.Tensor).dataSync() as Float32Array);
    const click = clickBatch(ds, 0, 1);
    const target = tf.tensor2d([candidates[0]], [1, 1]);
    const predict: Record<MemoryPath, (i: number) => Promise<unknown>> = {
      // One user and one candidate through the whole DUET model.
      model: async (i) => {
        const x = clickBatch(ds, i, 1);
        const y = duet.predict([target, x]) as tf.Tensor;
        await y.data();
        tf.dispose([x, y]);
      },
      generator: async (i) => {
        const x = clickBatch(ds, i, 1);
        const y = generator.predict(x) as tf.Tensor;
        await y.data();
        tf.dispose([x, y]);
      },
      device: () => deviceScore(device, click, params, candidates),
    };
    for (const path of o.paths) {
      ctx.log(`memory ${o.model}-duet ${path}: ${o.predictions} predictions`);
      const run = predict[path];
      for (let i = 0; i < o.warmup; i++) await run(i);
      await tick();
      const gcExposed = gc();
      const before = tf.memory();
      const rssBefore = rssBytes();
      let rssMid = rssBefore;
      const half = Math.floor(o.predictions / 2);
      const started = performance.now();
      for (let i = 0; i < o.predictions; i++) {
        await run(i);
        if (i + 1 === half) {
          gc();
          rssMid = rssBytes();
        }
        if (i % 1000 === 999) await tick();
      }
      const ms = performance.now() - started;
      gc();
      const after = tf.memory();
      const rssAfter = rssBytes();
      const rssSecondHalfMb = (rssAfter - rssMid) / MB;
      const tensorsGrew = after.numTensors > before.numTensors;
      const rssGrew = rssSecondHalfMb > o.rssToleranceMb;
      out.push(record(ctx, 'memory', {
        model: o.model, variant: 'duet', path, predictions: o.predictions,
        rssToleranceMb: o.rssToleranceMb, gcExposed,
      }, {
        numTensorsBefore: before.numTensors, numTensorsAfter: after.numTensors,
        numBytesBefore: before.numBytes, numBytesAfter: after.numBytes,
        rssBeforeMb: Number((rssBefore / MB).toFixed(1)), rssMidMb: Number((rssMid / MB).toFixed(1)),
        rssAfterMb: Number((rssAfter / MB).toFixed(1)),
        tensorsGrew, rssGrew, grew: tensorsGrew || rssGrew,
        msPerPrediction: Number((ms / o.predictions).toFixed(4)),
      }));
    }
    tf.dispose([click, target]);
  } finally {
    freeModel(duet);
  }
  return out;
}
