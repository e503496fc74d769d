/**
 * Shared pieces of the benchmark suite: the record every measurement prints, machine info,
 * timing and percentiles, the data the benchmarks run on, and model building/freeing.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {
  createModel, type CreateModelOptions, type DuetDataset, type EncoderKind, type ModelKind,
  type ModelVariant, readDuetSplit, sliceDataset, synthetic,
} from '../src/index';

/** The machine a record was measured on. */
export interface MachineInfo {
  /** Logical cores (`os.cpus().length`). */
  cores: number;
  /** CPU model name (lscpu's "Model name", else `os.cpus()[0].model`). */
  cpu: string;
  /** Node version, e.g. `v20.19.0`. */
  node: string;
  /** `process.platform-process.arch`, e.g. `linux-x64`. */
  platform: string;
}

/** One measurement: one JSON line of `npm run bench -- --json`. */
export interface BenchRecord {
  /** Benchmark name, e.g. `train`, `generator-latency`. */
  bench: string;
  machine: MachineInfo;
  /** The tfjs backend measured (`wasm`, `cpu`, `tensorflow`). */
  backend: string;
  /** What was measured: model, variant, batch size, counts, data source. */
  params: Record<string, unknown>;
  /** The measured values (`samplesPerSecond`, `p50Ms`, …). */
  [value: string]: unknown;
}

/** The rows benchmarks feed to models. */
export interface BenchData {
  train: DuetDataset;
  test: DuetDataset;
  /** Largest item id (vocabulary numItems + 1). */
  numItems: number;
  /** Where the rows came from: `synthetic(users=…,items=…)` or the `--data` folder. */
  source: string;
  /** The `--data` folder (absent for synthetic data), for benchmarks that start child processes. */
  dir?: string;
}

/** What every benchmark function receives. */
export interface BenchContext {
  /** The current tfjs backend (set up by the caller, e.g. with `useBackend`). */
  backend: string;
  machine: MachineInfo;
  data: BenchData;
  /** Shrink counts so the whole suite is a 1–2 minute smoke test. */
  quick: boolean;
  /** Progress messages (the runner writes them to stderr). */
  log: (message: string) => void;
}

/** Every model the benchmarks cover. */
export const MODEL_KINDS: readonly ModelKind[] = ['sasrec', 'gru4rec', 'din'];
/** Every encoder of the default ParameterGenerator. */
export const ENCODERS: readonly EncoderKind[] = ['gru', 'mean', 'attention', 'last'];

let cachedMachine: MachineInfo | undefined;

/** The machine this process runs on (cached). */
export function machineInfo(): MachineInfo {
  if (cachedMachine !== undefined) return cachedMachine;
  let cpu = os.cpus()[0]?.model?.trim() ?? 'unknown';
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.split('\n').find((l) => /^Model name:/.test(l));
    if (line !== undefined) cpu = line.replace(/^Model name:\s*/, '').trim();
  } catch {
    // No lscpu (macOS, Windows): os.cpus() it is.
  }
  cachedMachine = {
    cores: os.cpus().length, cpu, node: process.version, platform: `${process.platform}-${process.arch}`,
  };
  return cachedMachine;
}

/**
 * A record for `ctx`: machine and backend filled in, plus `load1`, the 1-minute load average when
 * it was taken (other work on the machine slows every figure down).
 */
export function record(ctx: BenchContext, bench: string, params: Record<string, unknown>,
    values: Record<string, unknown>): BenchRecord {
  return { bench, machine: ctx.machine, backend: ctx.backend, params, ...values,
    load1: Number(os.loadavg()[0].toFixed(2)) };
}

/** Wall and CPU (user + system) time of this process over `fn`, in ms. */
export async function measure<T>(fn: () => Promise<T> | T): Promise<{ result: T; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await fn();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { result, ms, cpuMs: (used.user + used.system) / 1000 };
}

/** The `p`-th percentile (0–100) of ascending `sorted` values, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summary of per-call times in ms: p50, p90, p99, mean, min, max, calls. */
// A type (not an interface) so that it is assignable to Record<string, unknown>.
export type LatencySummary = {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  calls: number;
};

/** Summarises per-call times in ms. */
export function summarize(times: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(times).sort();
  let sum = 0;
  for (const t of sorted) sum += t;
  return {
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(sum / sorted.length),
    minMs: round(sorted[0]),
    maxMs: round(sorted[sorted.length - 1]),
    calls: sorted.length,
  };
}

/**
 * Calls `fn` `warmup` times untimed, then `calls` times timed one by one (ms each). With
 * `budgetMs`, stops early once the timed calls took that long and at least `minCalls` were made
 * (slow paths keep the suite's run time bounded; records say how many calls were made).
 */
export async function timeCalls(fn: () => unknown, calls: number, warmup = 0,
    budget?: { budgetMs: number; minCalls: number }): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await fn();
    const end = performance.now();
    times.push(end - start);
    if (budget !== undefined && times.length >= budget.minCalls && end - started > budget.budgetMs) break;
  }
  return times;
}

/** `value` rounded to 4 significant decimals below 1, else to 3 decimals (JSON-friendly). */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 3 : 5;
  return Number(value.toFixed(digits));
}

/** Items per second for `count` items in `ms`. */
export function perSecond(count: number, ms: number): number {
  return round(ms > 0 ? (count * 1000) / ms : Infinity);
}

/** Process RSS in bytes. */
export function rssBytes(): number {
  return process.memoryUsage().rss;
}

/** Synthetic data sized like the MovieLens duet-seq-v1 split (≈10k items), smaller with quick. */
export function syntheticBenchData(quick: boolean): BenchData {
  const users = quick ? 400 : 2000;
  const items = quick ? 2000 : 10000;
  const split = synthetic({ users, items, seed: 0 });
  return { train: split.train, test: split.test, numItems: split.train.numItems,
    source: `synthetic(users=${users},items=${items},seed=0)` };
}

/** A duet-seq-v1 split folder (`train.txt`, `test.txt`, `protocol.json`). */
export async function folderBenchData(dir: string): Promise<BenchData> {
  const { train, test } = await readDuetSplit(dir);
  return { train, test, numItems: train.numItems, source: dir, dir };
}

/** The first `n` rows of `ds` (all of them when it has fewer), repeated to reach `n` if needed. */
export function firstRows(ds: DuetDataset, n: number): DuetDataset {
  if (ds.size === 0) throw new Error(`'firstRows': the dataset has no rows`);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i % ds.size;
  return sliceDataset(ds, idx);
}

/** The `click` row `r` of `ds` as an int32 `[1, L]` tensor. */
export function clickRow(ds: DuetDataset, r: number): tf.Tensor2D {
  const L = ds.clickLength;
  return tf.tensor2d(ds.click.subarray(r * L, r * L + L), [1, L], 'int32');
}

/** Options of {@link buildModel}. */
export interface BuildModelOptions {
  model: ModelKind;
  variant: ModelVariant;
  numItems: number;
  clickLength?: number;
  /** Generator encoder of the DUET variant. Default: the library's (`'gru'`). */
  encoder?: EncoderKind;
  seed?: number;
}

/**
 * A reference model with the library's defaults. The DUET variant is built directly
 * (`variant: 'duet'`), which has the same graph and cost as `duetFromBase` on a trained base.
 */
export function buildModel(o: BuildModelOptions): tfl.LayersModel {
  const options = {
    model: o.model, variant: o.variant, numItems: o.numItems, clickLength: o.clickLength ?? 30,
    seed: o.seed ?? 0, ...(o.encoder === undefined ? {} : { generator: { encoder: o.encoder } }),
  } as CreateModelOptions;
  return createModel(options).model;
}

/** Frees every weight of `model` (not `model.dispose()`: a shared layer counts twice there). */
export function freeModel(model: tfl.LayersModel): void {
  for (const w of model.weights) {
    try {
      w.dispose();
    } catch {
      // Already freed (a weight listed twice).
    }
  }
}

/** Number of values in `weights`. */
export function weightCount(weights: readonly tfl.LayerVariable[]): number {
  return weights.reduce((n, w) => n + tf.util.sizeFromShape(w.shape as number[]), 0);
}

/** A short label: `sasrec`, `sasrec-duet`, `sasrec-duet[mean]`. */
export function modelLabel(model: ModelKind, variant: ModelVariant, encoder?: EncoderKind): string {
  return variant === 'base' ? model : `${model}-duet${encoder === undefined ? '' : `[${encoder}]`}`;
}

/** Feeds `inputs` by model input name (the layer name of each input). */
export function inputsByName(model: tfl.LayersModel, byName: Record<string, tf.Tensor>): tf.Tensor[] {
  return model.inputs.map((t, i) => {
    const name = t.sourceLayer?.name ?? model.inputNames[i];
    const x = byName[name];
    if (x === undefined) throw new Error(`bench: no tensor for model input '${name}'`);
    return x;
  });
}

/** Lets pending I/O (stdout) through between long synchronous stretches. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
