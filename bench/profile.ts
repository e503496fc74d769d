/**
 * Where the time goes: a kernel-level breakdown (`tf.profile`) of a DUET-SASRec training step and
 * a few other hot paths on the current backend. matMul kernels are split by how they are called
 * (plain, transposeA/B, per-sample batched), the suspects for wasm's slow training.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {
  bceWithLogits, type DuetBatch, type EncoderKind, type ModelKind, type ModelVariant,
  PARAMS_INPUT_NAME, splitDuet,
} from '../src/index';
import { forwardLogits } from '../src/eval/model_inputs';
import { Stepper } from '../src/train/train_step';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, inputsByName, measure, modelLabel, record, round,
  summarize, tick, timeCalls,
} from './common';
import { clickBatch } from './generator';
import { endlessBatches } from './train_throughput';

/** What to profile. */
export interface ProfileTarget {
  /**
   * `train-step`: one optimisation step (forward, backward, Adam); `train-forward`: its forward
   * pass and loss only; `score`: an inference forward pass; `generator`: `splitDuet`'s generator;
   * `device`: `splitDuet`'s device model scoring `batchSize` candidates for one user.
   */
  path: 'train-step' | 'train-forward' | 'score' | 'generator' | 'device';
  model: ModelKind;
  variant: ModelVariant;
  encoder?: EncoderKind;
  batchSize: number;
}

/** Options of {@link benchProfile}. */
export interface ProfileBenchOptions {
  targets: readonly ProfileTarget[];
  /** Timed unprofiled calls for the wall time (after one warm-up). */
  reps: number;
  /** Profiled calls; each kernel group reports its median over them (robust to load spikes). */
  profileReps: number;
  /** Kernel groups listed per target. */
  top: number;
}

/**
 * Defaults: DUET-SASRec's training step (its forward part, with the mean encoder, and base),
 * scoring, generator, device forward; DIN's training step (DUET and base). Quick: the DUET-SASRec
 * training step only.
 */
export function profileBenchDefaults(quick: boolean): ProfileBenchOptions {
  const sasrec = (path: ProfileTarget['path'], variant: ModelVariant, batchSize: number,
    encoder?: EncoderKind): ProfileTarget => ({ path, model: 'sasrec', variant, batchSize, encoder });
  return {
    targets: quick ? [sasrec('train-step', 'duet', 1024)] : [
      sasrec('train-step', 'duet', 1024),
      sasrec('train-forward', 'duet', 1024),
      sasrec('train-step', 'duet', 1024, 'mean'),
      sasrec('train-step', 'base', 1024),
      sasrec('score', 'duet', 1024),
      sasrec('generator', 'duet', 1),
      sasrec('generator', 'duet', 256),
      sasrec('device', 'duet', 100),
      { path: 'train-step', model: 'din', variant: 'duet', batchSize: 1024 },
      { path: 'train-step', model: 'din', variant: 'base', batchSize: 1024 },
    ],
    reps: quick ? 1 : 3,
    profileReps: quick ? 1 : 3,
    top: 15,
  };
}

const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'];

/** A matMul call: its group label and the same with operand shapes. */
interface MatMulCall { label: string; shaped: string }

/** How a matMul kernel was called, e.g. `BatchMatMul[transposeB]`, `BatchMatMul[per-sample ×1024]`. */
function matMulLabel(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): MatMulCall {
  const a = inputs.a?.shape ?? [];
  const b = inputs.b?.shape ?? [];
  const parts: string[] = [];
  if (attrs.transposeA === true) parts.push('transposeA');
  if (attrs.transposeB === true) parts.push('transposeB');
  const batchA = a.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.slice(0, -2).reduce((x, y) => x * y, 1);
  if (batchA > 1 && batchB > 1) parts.push(`per-sample ×${Math.max(batchA, batchB)}`);
  if (parts.length === 0) parts.push('plain');
  const label = `${name}[${parts.join(', ')}]`;
  return { label, shaped: `${label} ${a.join('x')} · ${b.join('x')}` };
}

/**
 * Wraps the matMul kernels of `backend` so each call records its label (in call order); returns
 * the labels and a function that puts the original kernels back.
 */
function instrumentMatMul(backend: string): { labels: Map<string, MatMulCall[]>; restore: () => void } {
  const labels = new Map<string, MatMulCall[]>();
  const originals: tf.KernelConfig[] = [];
  for (const name of MATMUL_KERNELS) {
    const config = tf.getKernel(name, backend);
    if (config == null) continue;
    originals.push(config);
    labels.set(name, []);
    tf.unregisterKernel(name, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        labels.get(name)?.push(matMulLabel(name, args.inputs, args.attrs ?? {}));
        return config.kernelFunc(args);
      },
    });
  }
  return {
    labels,
    restore: () => {
      for (const config of originals) {
        tf.unregisterKernel(config.kernelName, backend);
        tf.registerKernel(config);
      }
    },
  };
}

/** A kernel group of a profile. */
export interface KernelGroup {
  kernel: string;
  ms: number;
  /** Fraction of the summed kernel time. */
  share: number;
  calls: number;
}

/** Kernel groups sorted by time, from a map of label → totals. */
function sortedGroups(byGroup: Map<string, { ms: number; calls: number }>, kernelMs: number): KernelGroup[] {
  return [...byGroup.entries()]
    .map(([kernel, g]) => ({ kernel, ms: round(g.ms), share: round(g.ms / kernelMs), calls: g.calls }))
    .sort((x, y) => y.ms - x.ms);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Per-group medians over several profiles (a group missing from one counts 0 ms there). */
function medianGroups(runs: KernelGroup[][]): KernelGroup[] {
  const labels = new Set(runs.flatMap((r) => r.map((g) => g.kernel)));
  const groups = [...labels].map((kernel) => {
    const found = runs.map((r) => r.find((g) => g.kernel === kernel));
    return { kernel, ms: median(found.map((g) => g?.ms ?? 0)),
      calls: found.find((g) => g !== undefined)?.calls ?? 0 };
  });
  const total = groups.reduce((sum, g) => sum + g.ms, 0);
  return groups.map((g) => ({ ...g, ms: round(g.ms), share: round(g.ms / total) }))
    .sort((x, y) => y.ms - x.ms);
}

/**
 * Profiles one call of `fn` (its result tensors are disposed) and groups kernel times by kernel
 * (matMuls by how they were called), and by kernel and input shapes.
 */
export async function profileKernels(backend: string, fn: () => tf.TensorContainer): Promise<{
  groups: KernelGroup[]; shapeGroups: KernelGroup[]; kernelMs: number; kernelCalls: number;
  profiledMs: number;
}> {
  const { labels, restore } = instrumentMatMul(backend);
  let info: Awaited<ReturnType<typeof tf.profile>>;
  const started = performance.now();
  try {
    info = await tf.profile(() => fn());
  } finally {
    restore();
  }
  const profiledMs = performance.now() - started;
  tf.dispose(info.result as tf.TensorContainer);
  const byGroup = new Map<string, { ms: number; calls: number }>();
  const byShape = new Map<string, { ms: number; calls: number }>();
  const add = (map: typeof byGroup, key: string, ms: number) => {
    const g = map.get(key) ?? { ms: 0, calls: 0 };
    g.ms += ms;
    g.calls++;
    map.set(key, g);
  };
  let kernelMs = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const call = labels.get(k.name)?.shift();
    add(byGroup, call?.label ?? k.name, ms);
    add(byShape, call?.shaped ?? `${k.name} ${k.inputShapes.map((sh) => (sh ?? []).join('x')).join(' · ')}`, ms);
    kernelMs += ms;
  }
  return {
    groups: sortedGroups(byGroup, kernelMs), shapeGroups: sortedGroups(byShape, kernelMs), kernelMs,
    kernelCalls: info.kernels.length, profiledMs,
  };
}

/** The function to profile for `target`, and what to free afterwards. */
function prepare(ctx: BenchContext, target: ProfileTarget):
    { run: () => tf.Tensor; dispose: () => void } {
  const model = buildModel({ model: target.model, variant: target.variant, numItems: ctx.data.numItems,
    clickLength: ctx.data.train.clickLength, encoder: target.encoder });
  if (target.path === 'generator') {
    const { generator } = splitDuet(model);
    const x = clickBatch(ctx.data.test, 0, target.batchSize);
    const n = target.batchSize;
    return { run: () => generator.predict(x, { batchSize: n }) as tf.Tensor, dispose: () => { x.dispose(); freeModel(model); } };
  }
  if (target.path === 'device') {
    const { generator, device } = splitDuet(model);
    const n = target.batchSize;
    const xs = tf.tidy(() => {
      const click = clickBatch(ctx.data.test, 0, 1);
      const params = generator.predict(click) as tf.Tensor;
      const candidates = tf.tensor2d(Float32Array.from({ length: n }, (_, i) => 1 + (i % ctx.data.numItems)), [n, 1]);
      return inputsByName(device, {
        target: candidates, click: tf.tile(click, [n, 1]), [PARAMS_INPUT_NAME]: tf.tile(params, [n, 1]),
      });
    });
    return { run: () => device.predict(xs, { batchSize: n }) as tf.Tensor, dispose: () => { tf.dispose(xs); freeModel(model); } };
  }
  const batches = endlessBatches(model, target.path === 'score' ? ctx.data.test : ctx.data.train,
    target.batchSize);
  const batch = batches.next().value as DuetBatch;
  const done = (extra?: () => void) => () => { extra?.(); batches.return(undefined); freeModel(model); };
  if (target.path === 'score') {
    return { run: () => forwardLogits(model, batch.inputs, false), dispose: done() };
  }
  if (target.path === 'train-forward') {
    return { run: () => tf.tidy(() => bceWithLogits(batch.labels, forwardLogits(model, batch.inputs, true))),
      dispose: done() };
  }
  const stepper = new Stepper(model as tfl.LayersModel, { learningRate: 1e-3 }, 'benchProfile');
  return { run: () => stepper.step(batch), dispose: done(() => stepper.dispose()) };
}

/** A kernel breakdown per target. */
export async function benchProfile(ctx: BenchContext, overrides: Partial<ProfileBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...profileBenchDefaults(ctx.quick), ...overrides };
  const out: BenchRecord[] = [];
  for (const target of o.targets) {
    const label = `${target.path} ${modelLabel(target.model, target.variant, target.encoder)} batch ${target.batchSize}`;
    ctx.log(`profile ${label}`);
    const { run, dispose } = prepare(ctx, target);
    try {
      const call = async () => {
        const result = run();
        await result.data(); // the call has surely finished (async backends)
        result.dispose();
      };
      const small = target.path === 'generator' || target.path === 'device';
      const reps = small ? Math.max(50, o.reps) : o.reps;
      const timed = await measure(() => timeCalls(call, reps, small ? 10 : 1));
      const wall = summarize(timed.result);
      await tick();
      const profiles = [];
      for (let i = 0; i < (small ? Math.max(5, o.profileReps) : o.profileReps); i++) {
        profiles.push(await profileKernels(ctx.backend, run));
        await tick();
      }
      const kernelMs = median(profiles.map((p) => p.kernelMs));
      const p = { ...profiles[0], kernelMs, groups: medianGroups(profiles.map((q) => q.groups)),
        shapeGroups: medianGroups(profiles.map((q) => q.shapeGroups)),
        profiledMs: median(profiles.map((q) => q.profiledMs)) };
      out.push(record(ctx, 'profile', {
        path: target.path, model: target.model, variant: target.variant,
        encoder: target.variant === 'duet' ? target.encoder ?? 'gru' : undefined,
        batchSize: target.batchSize, reps, profileReps: profiles.length, numItems: ctx.data.numItems, data: ctx.data.source,
      }, {
        wallMsP50: wall.p50Ms,
        cpuMsPerCall: round(timed.cpuMs / (reps + (small ? 10 : 1))),
        kernelMs: round(p.kernelMs),
        kernelCalls: p.kernelCalls,
        // Time outside kernels: the engine, the gradient tape, tfjs-layers, JS glue (noisy under load).
        overheadMs: round(Math.max(0, wall.p50Ms - p.kernelMs)),
        profiledMs: round(p.profiledMs),
        top: p.groups.slice(0, o.top),
        topByShape: p.shapeGroups.slice(0, o.top),
      }));
      await tick();
    } finally {
      dispose();
    }
  }
  return out;
}
