/**
 * Device forward latency with received parameters: `splitDuet`'s device model scores 100
 * candidates for one user (p50, p99). A call covers what the device does per request: candidate
 * ids and the user's history → tensors, the parameter vector tiled over the candidates (as
 * `DeviceRuntime.score` does), one forward pass, read the scores.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { type ModelKind, PARAMS_INPUT_NAME, splitDuet } from '../src/index';
import {
  type BenchContext, type BenchRecord, buildModel, freeModel, MODEL_KINDS, record, summarize, tick,
  timeCalls,
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

/** Scores `candidates` for one user's history `click [1, L]` with received `params [total]`. */
export async function deviceScore(device: tfl.LayersModel, click: tf.Tensor2D, params: Float32Array,
    candidates: Int32Array): Promise<Float32Array> {
  const n = candidates.length;
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
      ctx.log(`device ${kind}-duet: ${o.calls} calls, ${o.candidates} candidates`);
      let call = 0;
      const times = await timeCalls(() => {
        const u = call++ % users;
        return deviceScore(device, clicks[u], params[u], candidates);
      }, o.calls, o.warmup, { budgetMs: o.budgetSeconds * 1000, minCalls: o.minCalls });
      tf.dispose(clicks);
      out.push(record(ctx, 'device-forward', {
        model: kind, candidates: o.candidates, paramsPerUser: layout.total,
        deviceInputs: device.inputs.map((t, i) => t.sourceLayer?.name ?? device.inputNames[i]),
        numItems: ctx.data.numItems, data: ctx.data.source,
      }, summarize(times)));
      await tick();
    } finally {
      freeModel(duet);
    }
  }
  return out;
}
