/**
 * Training throughput: samples/s of one optimisation step (the step `train` takes: BCE on
 * logits, Adam, batch 1024), for base and DUET SASRec, GRU4Rec and DIN. A bounded number of
 * steps after a warm-up, not whole epochs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { datasetBatches, type DuetBatch, type DuetDataset, type ModelKind, type ModelVariant } from '../src/index';
import { Stepper } from '../src/train/train_step';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, measure, MODEL_KINDS, modelLabel, perSecond,
  record, summarize, tick, weightCount,
} from './common';

/** Options of {@link benchTrain}. */
export interface TrainBenchOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  batchSize: number;
  /** Untimed steps first (kernel set-up, Adam's slots). */
  warmupSteps: number;
  /** Timed steps. */
  steps: number;
}

/** Defaults: every model, both variants, batch 1024, 3 + 10 steps (quick: 1 + 1). */
export function trainBenchDefaults(quick: boolean): TrainBenchOptions {
  return {
    models: MODEL_KINDS, variants: ['base', 'duet'], batchSize: 1024,
    warmupSteps: quick ? 1 : 3, steps: quick ? 1 : 10,
  };
}

/** Full batches of `ds` for `model`, epoch after epoch, without end. */
export function* endlessBatches(model: tfl.LayersModel, ds: DuetDataset, batchSize: number):
    Generator<DuetBatch> {
  if (ds.size < batchSize) {
    throw new Error(`bench: the training data has ${ds.size} rows, fewer than one batch of ${batchSize}`);
  }
  for (let epoch = 0; ; epoch++) {
    for (const batch of datasetBatches(model, ds, { batchSize, seed: 0, epoch })) {
      if (batch.size === batchSize) yield batch; // a short last batch would be a new shape
    }
  }
}

/** Training throughput of each model and variant. */
export async function benchTrain(ctx: BenchContext, overrides: Partial<TrainBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...trainBenchDefaults(ctx.quick), ...overrides };
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    for (const variant of o.variants) {
      const label = modelLabel(kind, variant);
      ctx.log(`train ${label}: ${o.warmupSteps} warm-up + ${o.steps} steps of ${o.batchSize}`);
      const model = buildModel({ model: kind, variant, numItems: ctx.data.numItems,
        clickLength: ctx.data.train.clickLength });
      const stepper = new Stepper(model, { learningRate: 1e-3 }, 'benchTrain');
      const batches = endlessBatches(model, ctx.data.train, o.batchSize);
      const step = async () => {
        const loss = stepper.step(batches.next().value as DuetBatch);
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      };
      try {
        for (let i = 0; i < o.warmupSteps; i++) await step();
        await tick();
        const times: number[] = [];
        let lastLoss = NaN;
        const { ms, cpuMs } = await measure(async () => {
          for (let i = 0; i < o.steps; i++) {
            const t = performance.now();
            lastLoss = await step();
            times.push(performance.now() - t);
          }
        });
        const s = summarize(times);
        out.push(record(ctx, 'train', {
          model: kind, variant, batchSize: o.batchSize, warmupSteps: o.warmupSteps, steps: o.steps,
          numItems: ctx.data.numItems, data: ctx.data.source,
        }, {
          samplesPerSecond: perSecond(o.steps * o.batchSize, ms),
          // Per second of this process's CPU time: near the unloaded figure for one thread.
          samplesPerCpuSecond: perSecond(o.steps * o.batchSize, cpuMs),
          msPerStepP50: s.p50Ms, msPerStepMin: s.minMs, msPerStepMax: s.maxMs,
          finite: Number.isFinite(lastLoss),
          trainableParams: weightCount(model.trainableWeights),
        }));
      } finally {
        batches.return(undefined);
        stepper.dispose();
        freeModel(model);
      }
      ctx.log(`  ${String(out[out.length - 1]?.samplesPerSecond)} samples/s (tensors ${tf.memory().numTensors})`);
    }
  }
  return out;
}
