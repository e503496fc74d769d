/**
 * Training throughput: samples/s of `train` (BCE on logits, Adam, batch 1024) for base and DUET
 * SASRec, GRU4Rec and DIN, on 1 thread and on every core (`train({ threads })`), and the scaling
 * ratio between them. Each run trains 2 epochs over `steps` batches: the first warms up (kernel
 * set-up, Adam's slots, the workers' JIT), the second is timed. Worker start-up is not counted.
 */
import * as os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { datasetBatches, type DuetBatch, type DuetDataset, type ModelKind, type ModelVariant, train } from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, firstRows, freeModel, MODEL_KINDS, modelLabel, perSecond,
  record, weightCount,
} from './common';

/** Options of {@link benchTrain}. */
export interface TrainBenchOptions {
  models: readonly ModelKind[];
  variants: readonly ModelVariant[];
  batchSize: number;
  /** Steps per epoch: one untimed epoch, then one timed. */
  steps: number;
  /** Thread counts to measure; a scaling record compares the last with the first. */
  threads: readonly number[];
}

/** Every core of this machine, as `train`'s default uses. */
export function benchCores(): number {
  return Math.max(1, (os as { availableParallelism?: () => number }).availableParallelism?.() ?? os.cpus().length);
}

/** Defaults: every model, both variants, batch 1024, 10 steps per epoch (quick: 1), 1 thread and every core. */
export function trainBenchDefaults(quick: boolean): TrainBenchOptions {
  return {
    models: MODEL_KINDS, variants: ['base', 'duet'], batchSize: 1024,
    steps: quick ? 1 : 10, threads: [...new Set([1, benchCores()])],
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

/** Process CPU time (every thread: user + system), ms. */
function cpuMs(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

/** Training throughput of each model and variant at each thread count, and the scaling between them. */
export async function benchTrain(ctx: BenchContext, overrides: Partial<TrainBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...trainBenchDefaults(ctx.quick), ...overrides };
  const out: BenchRecord[] = [];
  const rows = firstRows(ctx.data.train, o.steps * o.batchSize);
  for (const kind of o.models) {
    for (const variant of o.variants) {
      const label = modelLabel(kind, variant);
      const measured: Array<{ threads: number; samplesPerSecond: number }> = [];
      for (const threads of o.threads) {
        ctx.log(`train ${label}, ${threads} thread(s): 2 epochs of ${o.steps} steps of ${o.batchSize} (the second timed)`);
        const model = buildModel({ model: kind, variant, numItems: ctx.data.numItems,
          clickLength: ctx.data.train.clickLength });
        let cpuAtEpoch1 = 0;
        let cpuEpoch2 = 0;
        try {
          const result = await train(model, { train: rows }, {
            epochs: 2, batchSize: o.batchSize, learningRate: 1e-3, threads,
            onEpoch: (log) => {
              if (log.epoch === 1) cpuAtEpoch1 = cpuMs();
              else cpuEpoch2 = cpuMs() - cpuAtEpoch1;
            },
          });
          const timed = result.history[1];
          const samplesPerSecond = timed.samplesPerSecond;
          measured.push({ threads, samplesPerSecond });
          out.push(record(ctx, 'train', {
            model: kind, variant, batchSize: o.batchSize, steps: o.steps, threads: result.threads,
            numItems: ctx.data.numItems, data: ctx.data.source,
          }, {
            samplesPerSecond,
            // Per second of this process's CPU time, all threads together.
            samplesPerCpuSecond: perSecond(rows.size, cpuEpoch2),
            msPerStep: (timed.seconds * 1000) / o.steps,
            finite: Number.isFinite(timed.loss),
            trainableParams: weightCount(model.trainableWeights),
          }));
        } finally {
          freeModel(model);
        }
        ctx.log(`  ${String(out[out.length - 1]?.samplesPerSecond)} samples/s (tensors ${tf.memory().numTensors})`);
      }
      if (measured.length > 1) {
        const first = measured[0];
        const last = measured[measured.length - 1];
        out.push(record(ctx, 'train-scaling', {
          model: kind, variant, batchSize: o.batchSize, threads: measured.map((m) => m.threads),
        }, {
          samplesPerSecond: measured.map((m) => m.samplesPerSecond),
          ratio: last.samplesPerSecond / first.samplesPerSecond,
        }));
      }
    }
  }
  return out;
}
