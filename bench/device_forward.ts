/**
 * Device forward latency with received parameters: `splitDuet`'s device model scores 100
 * candidates for one user (p50, p99). A call covers what the device does per request: candidate
 * ids and the user's history → tensors, then as `DeviceRuntime.score` does: for a two-tower
 * device model (SASRec, GRU4Rec) the user side once on (history, parameters) and the item side
 * on the candidates, dotted by one matMul; otherwise (DIN) one forward pass with the history and
 * the parameters tiled over the candidates; read the scores. `cachedUser*` times the item side
 * alone, as when the user vector is kept between calls (same history and parameters).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { type ModelKind, PARAMS_INPUT_NAME, splitDuet } from '../src/index';
import { dotItems, itemTowerOutputs, scoreTwoTower, splitTwoTower } from '../src/wrap/two_tower';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, MODEL_KINDS, measure, record,
  round, summarize, tick, timeCalls,
} from './common';
import { clickBatch } from './generator';

/** Options of {@link benchDeviceForward}. */
export interface DeviceForwardOptions {
  models: readonly ModelKind[];
  candidates: number;
  calls: number;
  warmup: number;
  /** Stop a model's timed calls after this many seconds (once `minCalls` were made). */
  budgetSeconds: number;
  minCalls: number;
}

/**
 * Defaults: every DUET model, 100 candidates, 1000 calls or 60 s, at least 200 calls (quick: 30
 * calls or 5 s).
 */
export function deviceForwardDefaults(quick: boolean): DeviceForwardOptions {
  return { models: MODEL_KINDS, candidates: 100, calls: quick ? 30 : 1000, warmup: quick ? 5 : 50,
    budgetSeconds: quick ? 5 : 60, minCalls: quick ? 10 : 200 };
}

/** The device model's input tensor for one row: `click` cast to its dtype, or `params`. */
function userRow(device: tfl.LayersModel, i: number, click: tf.Tensor2D, params: Float32Array): tf.Tensor {
  const input = device.inputs[i];
  const name = input.sourceLayer?.name ?? device.inputNames[i];
  if (name === PARAMS_INPUT_NAME) return tf.tensor2d(params, [1, params.length]);
  if (name === 'click') return tf.cast(click, input.dtype);
  throw new Error(`bench: device model user-side input '${name}' is not click or ${PARAMS_INPUT_NAME}`);
}

/** `candidates` as the device model's target input `[n, 1]`. */
function targetTensor(device: tfl.LayersModel, index: number, candidates: Int32Array): tf.Tensor2D {
  const dtype = device.inputs[index].dtype;
  return tf.tensor2d(dtype === 'int32' ? candidates : Float32Array.from(candidates), [candidates.length, 1], dtype);
}

/** Scores `candidates` for one user's history `click [1, L]` with received `params [total]`. */
export async function deviceScore(device: tfl.LayersModel, click: tf.Tensor2D, params: Float32Array,
    candidates: Int32Array): Promise<Float32Array> {
  const n = candidates.length;
  const towers = splitTwoTower(device);
  if (towers !== null) {
    const scores = tf.tidy(() => scoreTwoTower(towers,
      towers.userInputs.map((i) => userRow(device, i, click, params)),
      targetTensor(device, towers.targetInput, candidates)));
    const values = (await scores.data()) as Float32Array;
    scores.dispose();
    return values;
  }
  const xs = tf.tidy(() => device.inputs.map((input, i) => {
    const name = input.sourceLayer?.name ?? device.inputNames[i];
    if (name === PARAMS_INPUT_NAME) return tf.tile(tf.tensor2d(params, [1, params.length]), [n, 1]);
    if (name === 'target') {
      return tf.tensor2d(input.dtype === 'int32' ? candidates : Float32Array.from(candidates), [n, 1], input.dtype);
    }
    if (name === 'click') return tf.tile(tf.cast(click, input.dtype), [n, 1]);
    throw new Error(`bench: device model input '${name}' is not target, click or ${PARAMS_INPUT_NAME}`);
  }));
  // One forward pass (predict's default batchSize of 32 would make it four).
  const scores = device.predict(xs, { batchSize: n }) as tf.Tensor;
  const values = (await scores.data()) as Float32Array;
  tf.dispose([xs, scores]);
  return values;
}

/** Device forward latency per DUET model. */
export async function benchDeviceForward(ctx: BenchContext,
    overrides: Partial<DeviceForwardOptions> = {}): Promise<BenchRecord[]> {
  const o = { ...deviceForwardDefaults(ctx.quick), ...overrides };
  const ds = ctx.data.test;
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    const duet = buildModel({ model: kind, variant: 'duet', numItems: ctx.data.numItems,
      clickLength: ds.clickLength });
    try {
      const { generator, device, layout } = splitDuet(duet);
      // Users cycle through the test rows; each user's parameters are generated once, untimed.
      const users = Math.min(32, ds.size);
      const clicks = Array.from({ length: users }, (_, u) => clickBatch(ds, u, 1));
      const params = clicks.map((c) => tf.tidy(() => (generator.predict(c) as tf.Tensor).dataSync() as Float32Array));
      const candidates = Int32Array.from({ length: o.candidates }, (_, i) => 1 + ((i * 7919) % ctx.data.numItems));
      const towers = splitTwoTower(device);
      ctx.log(`device ${kind}-duet: ${o.calls} calls, ${o.candidates} candidates, ` +
        `${towers === null ? 'tiled' : 'two-tower'}`);
      let call = 0;
      const run = () => {
        const u = call++ % users;
        return deviceScore(device, clicks[u], params[u], candidates);
      };
      for (let i = 0; i < o.warmup; i++) await run();
      const budget = { budgetMs: o.budgetSeconds * 1000, minCalls: o.minCalls };
      const full = await measure(() => timeCalls(run, o.calls, 0, budget));
      // The item side alone: each user's vector computed once, untimed.
      let cached: Record<string, number> = {};
      if (towers !== null) {
        const userVectors = clicks.map((c, u) => tf.tidy(() => {
          const xs = towers.userInputs.map((i) => userRow(device, i, c, params[u]));
          return towers.user.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor;
        }));
        const itemSide = async () => {
          const u = call++ % users;
          const scores = tf.tidy(() => dotItems(userVectors[u],
            itemTowerOutputs(towers, targetTensor(device, towers.targetInput, candidates))));
          await scores.data();
          scores.dispose();
        };
        for (let i = 0; i < o.warmup; i++) await itemSide();
        const item = await measure(() => timeCalls(itemSide, o.calls, 0, budget));
        const s = summarize(item.result);
        cached = { cachedUserP50Ms: s.p50Ms, cachedUserP99Ms: s.p99Ms, cachedUserMinMs: s.minMs,
          cachedUserCpuMsPerCall: round(item.cpuMs / item.result.length) };
        tf.dispose(userVectors);
      }
      tf.dispose(clicks);
      out.push(record(ctx, 'device-forward', {
        model: kind, candidates: o.candidates, paramsPerUser: layout.total,
        deviceInputs: device.inputs.map((t, i) => t.sourceLayer?.name ?? device.inputNames[i]),
        path: towers === null ? 'tiled' : 'two-tower',
        numItems: ctx.data.numItems, data: ctx.data.source,
      }, { ...summarize(full.result), cpuMsPerCall: round(full.cpuMs / full.result.length), ...cached }));
      await tick();
    } finally {
      freeModel(duet);
    }
  }
  return out;
}
