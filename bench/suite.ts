/**
 * The benchmark suite: every benchmark by name, and `runSuite` to run a selection of them.
 */
import { benchDeviceForward } from './device_forward';
import { benchGenerator } from './generator';
import { benchKernels } from './kernels';
import { benchMemory } from './memory';
import { benchPayload } from './payload_size';
import { benchProfile } from './profile';
import { benchScoreScaling } from './score_scaling';
import { benchScore } from './score_throughput';
import { benchTopK } from './topk';
import { benchTrain } from './train_throughput';
import type { BenchContext, BenchRecord } from './common';

/** A benchmark: measures on `ctx` and returns its records. */
export type Benchmark = (ctx: BenchContext) => Promise<BenchRecord[]>;

/** Every benchmark, in the order the suite runs them. */
export const BENCHMARKS: Readonly<Record<string, Benchmark>> = {
  payload: (ctx) => benchPayload(ctx),
  train: (ctx) => benchTrain(ctx),
  score: (ctx) => benchScore(ctx),
  generator: (ctx) => benchGenerator(ctx),
  device: (ctx) => benchDeviceForward(ctx),
  memory: (ctx) => benchMemory(ctx),
  scaling: (ctx) => benchScoreScaling(ctx),
  topk: (ctx) => benchTopK(ctx),
  profile: (ctx) => benchProfile(ctx),
  kernels: (ctx) => benchKernels(ctx),
};

/** Names of every benchmark. */
export const BENCHMARK_NAMES: readonly string[] = Object.keys(BENCHMARKS);

/**
 * Runs the benchmarks `names` (default: all) in suite order, calling `onRecord` with each record
 * as each benchmark finishes; returns every record.
 */
export async function runSuite(ctx: BenchContext, names: readonly string[] = BENCHMARK_NAMES,
    onRecord: (r: BenchRecord) => void = () => {}): Promise<BenchRecord[]> {
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark(s) ${unknown.map((n) => `'${n}'`).join(', ')}; known: ` +
      BENCHMARK_NAMES.join(', '));
  }
  const all: BenchRecord[] = [];
  for (const name of BENCHMARK_NAMES.filter((n) => names.includes(n))) {
    const started = performance.now();
    const records = await BENCHMARKS[name](ctx);
    ctx.log(`${name}: ${records.length} record(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const r of records) {
      all.push(r);
      onRecord(r);
    }
  }
  return all;
}
