// A tiny run of the benchmark suite in-process: the records' JSON shape, not the speed.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { type BenchContext, type BenchRecord, machineInfo, percentile } from '../../bench/common';
import { benchDeviceForward } from '../../bench/device_forward';
import { benchGenerator } from '../../bench/generator';
import { benchMemory } from '../../bench/memory';
import { benchProfile } from '../../bench/profile';
import { BENCHMARK_NAMES, runSuite } from '../../bench/suite';
import { benchTrain } from '../../bench/train_throughput';
import { synthetic } from '../../src/data/synthetic';

const split = synthetic({ users: 40, items: 150, seed: 0 });
const ctx: BenchContext = {
  backend: tf.getBackend(), machine: machineInfo(), quick: true, log: () => {},
  data: { train: split.train, test: split.test, numItems: split.train.numItems, source: 'test' },
};

/** Checks the fields every record has, after a JSON round trip (what `--json` prints). */
function checkShape(r: BenchRecord, bench: string, values: string[]): Record<string, unknown> {
  const parsed = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  expect(parsed.bench).toBe(bench);
  expect(parsed.backend).toBe('cpu');
  const machine = parsed.machine as Record<string, unknown>;
  expect(machine.cores).toBeGreaterThan(0);
  expect(typeof machine.cpu).toBe('string');
  expect(machine.node).toMatch(/^v\d+\./);
  expect(machine.platform).toBe(`${process.platform}-${process.arch}`);
  expect(typeof parsed.params).toBe('object');
  for (const key of values) {
    expect(typeof parsed[key], key).toBe('number');
    expect(Number.isFinite(parsed[key]), key).toBe(true);
  }
  return parsed;
}

describe('bench suite (smoke)', () => {
  it('percentile takes the nearest rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(Float64Array.of(3), 99)).toBe(3);
  });

  it('prints records of the documented shape', async () => {
    const before = tf.memory().numTensors;
    const matMulKernel = tf.getKernel('BatchMatMul', 'cpu')?.kernelFunc;

    const payload = await runSuite(ctx, ['payload']);
    expect(BENCHMARK_NAMES).toContain('payload');
    expect(payload).toHaveLength(9); // 3 models × 3 formats
    const f32 = checkShape(payload[0], 'payload', ['paramsPerUser', 'bytesPerUser', 'bytesPerUserInBatch']);
    const f16 = checkShape(payload[1], 'payload', ['bytesPerUser']);
    expect(f16.bytesPerUser).toBeLessThan(f32.bytesPerUser as number);
    await expect(runSuite(ctx, ['nope'])).rejects.toThrow(/unknown benchmark/);

    const [one, two, scaling] = await benchTrain(ctx, {
      models: ['sasrec'], variants: ['duet'], batchSize: 32, steps: 1, threads: [1, 2],
    });
    const trained = checkShape(one, 'train', ['samplesPerSecond', 'samplesPerCpuSecond', 'msPerStep']);
    expect(trained.params).toMatchObject({ model: 'sasrec', variant: 'duet', batchSize: 32, steps: 1, threads: 1 });
    expect(checkShape(two, 'train', ['samplesPerSecond']).params).toMatchObject({ threads: 2 });
    const scaled = checkShape(scaling, 'train-scaling', ['ratio']);
    expect(scaled.params).toMatchObject({ threads: [1, 2] });
    expect(scaled.ratio).toBeCloseTo((two.samplesPerSecond as number) / (one.samplesPerSecond as number), 10);

    const generator = await benchGenerator(ctx, {
      targets: [{ model: 'sasrec', encoder: 'mean' }], latencyCalls: 5, warmup: 1,
      throughputBatch: 4, throughputCalls: 2,
    });
    expect(generator.map((r) => r.bench)).toEqual(['generator-latency', 'generator-throughput', 'generator-throughput']);
    expect(generator.slice(1).map((r) => (r.params as { path: string }).path)).toEqual(['predict', 'runner']);
    const latency = checkShape(generator[0], 'generator-latency', ['p50Ms', 'p99Ms', 'calls']);
    expect(latency.calls).toBe(5);
    expect(latency.p99Ms as number).toBeGreaterThanOrEqual(latency.p50Ms as number);
    checkShape(generator[1], 'generator-throughput', ['usersPerSecond', 'usersPerCpuSecond', 'msPerBatchMin']);
    checkShape(generator[2], 'generator-throughput', ['usersPerSecond']);

    const [device] = await benchDeviceForward(ctx, { models: ['sasrec'], candidates: 5, calls: 3, warmup: 1 });
    checkShape(device, 'device-forward', ['p50Ms', 'p99Ms']);
    expect(device.params).toMatchObject({ deviceInputs: ['target', 'click', 'duetParams'] });

    const memory = await benchMemory(ctx, { predictions: 6, warmup: 1 });
    expect(memory.map((r) => (r.params as { path: string }).path)).toEqual(['model', 'generator', 'device']);
    for (const r of memory) {
      const m = checkShape(r, 'memory', ['numTensorsBefore', 'numTensorsAfter', 'rssBeforeMb', 'rssAfterMb']);
      expect(m.tensorsGrew).toBe(false);
      expect(typeof m.grew).toBe('boolean');
    }

    const [profile] = await benchProfile(ctx, {
      targets: [{ path: 'train-step', model: 'sasrec', variant: 'base', batchSize: 16 }], reps: 1,
      profileReps: 1, top: 1000,
    });
    const p = checkShape(profile, 'profile', ['wallMsP50', 'kernelMs', 'kernelCalls']);
    const top = p.top as Array<{ kernel: string; ms: number; share: number; calls: number }>;
    expect(top.length).toBeGreaterThan(3);
    const shares = top.reduce((sum, g) => sum + g.share, 0);
    expect(shares).toBeCloseTo(1, 2);
    // The gradients of dense layers multiply by transposed operands: the matMul labels see them.
    expect(top.some((g) => /^(BatchMatMul|_FusedMatMul)\[.*transpose/.test(g.kernel))).toBe(true);

    // The instrumented matMul kernel is back, and nothing leaked.
    expect(tf.getKernel('BatchMatMul', 'cpu')?.kernelFunc).toBe(matMulKernel);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000); // generous: under other jobs' load this took over 20 s

  it('measures training in rounds beside independent processes, ratios as medians over rounds', async () => {
    const records = await benchTrain(ctx, {
      models: ['sasrec'], variants: ['base'], batchSize: 32, steps: 1, threads: [1, 2], rounds: 2, independent: true,
    });
    // Per round: 1 thread, 2 threads, the independent pair; then the scaling record.
    expect(records.map((r) => r.bench)).toEqual([
      ...Array.from({ length: 2 }, () => ['train', 'train', 'train-independent']).flat(), 'train-scaling']);
    const rounds = [0, 1].map((round) => records.slice(3 * round, 3 * round + 3));
    rounds.forEach((rs, round) => rs.forEach((r) => expect((r.params as { round: number }).round).toBe(round)));
    const pair = checkShape(rounds[0][2], 'train-independent', ['samplesPerSecond']);
    expect(pair.params).toMatchObject({ processes: 2, batchSize: 32, steps: 1 });
    const each = pair.eachSamplesPerSecond as number[];
    expect(each).toHaveLength(2);
    expect(each.every((v) => v > 0)).toBe(true);
    expect(pair.samplesPerSecond).toBeCloseTo(each[0] + each[1], 6);

    const sps = (r: BenchRecord) => r.samplesPerSecond as number;
    const med = (v: number[]) => (v[0] + v[1]) / 2; // of two rounds: their mean
    const scaled = checkShape(records[6], 'train-scaling', ['ratio', 'ceilingRatio', 'efficiency', 'independentSamplesPerSecond']);
    expect(scaled.params).toMatchObject({ threads: [1, 2], rounds: 2 });
    expect(scaled.ratios).toEqual(rounds.map((rs) => sps(rs[1]) / sps(rs[0])));
    expect(scaled.ratio).toBeCloseTo(med(rounds.map((rs) => sps(rs[1]) / sps(rs[0]))), 10);
    expect(scaled.ceilingRatio).toBeCloseTo(med(rounds.map((rs) => sps(rs[2]) / sps(rs[0]))), 10);
    expect(scaled.efficiency).toBeCloseTo(med(rounds.map((rs) => sps(rs[1]) / sps(rs[2]))), 10);
    const [one, all] = scaled.samplesPerSecond as number[];
    expect(one).toBeCloseTo(med(rounds.map((rs) => sps(rs[0]))), 6);
    expect(all).toBeCloseTo(med(rounds.map((rs) => sps(rs[1]))), 6);
    await expect(benchTrain(ctx, { models: ['sasrec'], variants: ['base'], rounds: 0 })).rejects.toThrow(/'rounds' must be a positive integer/);
  }, 120_000);
});
