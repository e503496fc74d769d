/**
 * Training throughput: samples/s of `train` (BCE on logits, Adam, batch 1024) for base and DUET
 * SASRec, GRU4Rec and DIN, on 1 thread and on every core (`train({ threads })`), and the scaling
 * ratio between them. Each run trains 2 epochs over `steps` batches: the first warms up (kernel
 * set-up, Adam's slots, the workers' JIT), the second is timed. Worker start-up is not counted.
 *
 * The scaling a machine allows is measured beside it ("independent"): one process per core, each
 * training its own copy at batch / cores on one thread at the same time, sharing nothing. Their
 * summed samples/s over the one-thread figure is the machine's ceiling for data-parallel training
 * (shared caches, memory bandwidth, clock boost, the hypervisor); N threads over it is how much of
 * that ceiling the gradient exchange keeps. Rounds run 1 thread, N threads and independent back
 * to back, so that each ratio compares figures taken moments apart; medians over rounds.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { datasetBatches, type DuetBatch, type DuetDataset, type ModelKind, type ModelVariant, train } from '../src/index';
import type { IndependentChildSpec } from './train_independent_child';
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
  /** Rounds of (every thread count, then independent): ratios are medians over rounds. */
  rounds: number;
  /** Also measure independent processes (one per core of the last thread count). */
  independent: boolean;
}

/** Every core of this machine, as `train`'s default uses. */
export function benchCores(): number {
  return Math.max(1, (os as { availableParallelism?: () => number }).availableParallelism?.() ?? os.cpus().length);
}

/**
 * Defaults: every model, both variants, batch 1024, 10 steps per epoch (quick: 1), 1 thread and
 * every core, 3 rounds with the independent ceiling (quick: 1 round, no ceiling).
 */
export function trainBenchDefaults(quick: boolean): TrainBenchOptions {
  const threads = [...new Set([1, benchCores()])];
  return {
    models: MODEL_KINDS, variants: ['base', 'duet'], batchSize: 1024,
    steps: quick ? 1 : 10, threads, rounds: quick ? 1 : 3, independent: !quick && threads.length > 1,
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

/** The median of `values` (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Measured {
  samplesPerSecond: number;
  samplesPerCpuSecond: number | undefined;
  msPerStep: number;
  finite: boolean;
  trainableParams: number;
  threads: number;
}

/** One `train` run (2 epochs, the second timed) of a fresh model on `threads` threads. */
async function measureThreads(ctx: BenchContext, o: TrainBenchOptions, rows: DuetDataset, kind: ModelKind,
    variant: ModelVariant, threads: number): Promise<Measured> {
  const model = buildModel({ model: kind, variant, numItems: ctx.data.numItems, clickLength: ctx.data.train.clickLength });
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
    return {
      samplesPerSecond: timed.samplesPerSecond,
      // Per second of this process's CPU time, all threads together.
      samplesPerCpuSecond: perSecond(rows.size, cpuEpoch2),
      msPerStep: (timed.seconds * 1000) / o.steps,
      finite: Number.isFinite(timed.loss),
      trainableParams: weightCount(model.trainableWeights),
      threads: result.threads,
    };
  } finally {
    freeModel(model);
  }
}

/**
 * `processes` child processes, each training its own model on one thread at batch
 * `batchSize / processes` on its own rows, their timed epochs at the same time: the summed
 * samples/s and each one's.
 */
async function measureIndependent(ctx: BenchContext, o: TrainBenchOptions, kind: ModelKind, variant: ModelVariant,
    processes: number): Promise<{ samplesPerSecond: number; each: number[] }> {
  const batchSize = Math.floor(o.batchSize / processes);
  const child = fileURLToPath(new URL('./train_independent_child.ts', import.meta.url));
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const runs = Array.from({ length: processes }, (_, part) => {
    const spec: IndependentChildSpec = { model: kind, variant, batchSize, steps: o.steps, part, processes,
      backend: ctx.backend, data: ctx.data.dir ?? null, quick: ctx.quick };
    // Through tsx's CLI, whatever started this process (npm run bench, vitest).
    const proc = spawn(process.execPath, [tsxCli, child, JSON.stringify(spec)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => { onReady = resolve; });
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) onReady();
    });
    proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const done = new Promise<number>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('exit', (code) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        if (code !== 0 || !last.startsWith('{')) {
          reject(new Error(`bench: independent training process ${part} exited with code ${code}: ${stderr.trim().slice(-2000)}`));
          return;
        }
        resolve((JSON.parse(last) as { samplesPerSecond: number }).samplesPerSecond);
      });
    });
    return { proc, ready, done };
  });
  try {
    await Promise.race([Promise.all(runs.map((r) => r.ready)), Promise.all(runs.map((r) => r.done))]);
    for (const r of runs) r.proc.stdin.end('go\n');
    const each = await Promise.all(runs.map((r) => r.done));
    return { samplesPerSecond: each.reduce((a, b) => a + b, 0), each };
  } finally {
    for (const r of runs) if (r.proc.exitCode === null) r.proc.kill();
  }
}

/** Training throughput of each model and variant at each thread count, and the scaling between them. */
export async function benchTrain(ctx: BenchContext, overrides: Partial<TrainBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...trainBenchDefaults(ctx.quick), ...overrides };
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`bench: 'rounds' must be a positive integer, got ${o.rounds}`);
  const out: BenchRecord[] = [];
  const rows = firstRows(ctx.data.train, o.steps * o.batchSize);
  const most = o.threads[o.threads.length - 1];
  for (const kind of o.models) {
    for (const variant of o.variants) {
      const label = modelLabel(kind, variant);
      const perRound: Array<{ byThreads: number[]; independent?: number }> = [];
      for (let round = 0; round < o.rounds; round++) {
        const byThreads: number[] = [];
        for (const threads of o.threads) {
          ctx.log(`train ${label}, ${threads} thread(s), round ${round + 1}/${o.rounds}: 2 epochs of ${o.steps} ` +
            `steps of ${o.batchSize} (the second timed)`);
          const m = await measureThreads(ctx, o, rows, kind, variant, threads);
          byThreads.push(m.samplesPerSecond);
          const { threads: used, ...values } = m;
          out.push(record(ctx, 'train', {
            model: kind, variant, batchSize: o.batchSize, steps: o.steps, threads: used, round,
            numItems: ctx.data.numItems, data: ctx.data.source,
          }, values));
          ctx.log(`  ${String(m.samplesPerSecond)} samples/s (tensors ${tf.memory().numTensors})`);
        }
        let independent: number | undefined;
        if (o.independent && most > 1) {
          ctx.log(`train ${label}, ${most} independent processes at batch ${Math.floor(o.batchSize / most)}, round ${round + 1}/${o.rounds}`);
          const m = await measureIndependent(ctx, o, kind, variant, most);
          independent = m.samplesPerSecond;
          out.push(record(ctx, 'train-independent', {
            model: kind, variant, batchSize: o.batchSize, steps: o.steps, processes: most, round,
            numItems: ctx.data.numItems, data: ctx.data.source,
          }, { samplesPerSecond: m.samplesPerSecond, eachSamplesPerSecond: m.each }));
          ctx.log(`  ${String(m.samplesPerSecond)} samples/s in all (${m.each.map(String).join(' + ')})`);
        }
        perRound.push({ byThreads, independent });
      }
      if (o.threads.length > 1) {
        const last = o.threads.length - 1;
        const ratios = perRound.map((r) => r.byThreads[last] / r.byThreads[0]);
        const withCeiling = perRound.filter((r) => r.independent !== undefined);
        const ceilings = withCeiling.map((r) => (r.independent as number) / r.byThreads[0]);
        const efficiencies = withCeiling.map((r) => r.byThreads[last] / (r.independent as number));
        out.push(record(ctx, 'train-scaling', {
          model: kind, variant, batchSize: o.batchSize, threads: [...o.threads], rounds: o.rounds,
        }, {
          // Median over rounds of each thread count's samples/s, and of the per-round ratios.
          samplesPerSecond: o.threads.map((_, i) => median(perRound.map((r) => r.byThreads[i]))),
          ratio: median(ratios),
          ratios,
          ...(withCeiling.length === 0 ? {} : {
            independentSamplesPerSecond: median(withCeiling.map((r) => r.independent as number)),
            ceilingRatio: median(ceilings),
            ceilingRatios: ceilings,
            efficiency: median(efficiencies),
          }),
        }));
      }
    }
  }
  return out;
}
