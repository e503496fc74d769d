/**
 * Accuracy cost of the payload formats: the device scores the test set with parameters sent as
 * f32, or decoded from f16 or int8 payloads, and the AUC / UAUC / NDCG@10 of each are compared
 * (targets: f16 within 0.001 and int8 within 0.005 AUC of f32). Also prints the bytes per user
 * of each format for the three reference models. JSON lines on stdout, progress on stderr.
 *
 *   npm run bench:payload-accuracy [-- --data ../shared/data/movielens-latest-small-ratings.csv
 *                                      --model-dir /tmp/duet-ml --epochs 2]
 *
 * Each test user's parameters come from their own history (the test rows' click sequence) via
 * the generator, are encoded with `encodePayload` and decoded with `decodePayload` exactly as
 * the service and the device do, and the device model scores the user's 1 + 49 candidates.
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  auc, createModel, decodePayload, encodePayload, ModelKind, ndcgAtK, payloadByteLength,
  PayloadFormat, splitDuet, uauc,
} from 'duet-tf';

import { deviceScores, generate, loadSplit, parseSetupArgs, trainedDuet } from './device_cloud_setup';

const FORMATS: PayloadFormat[] = ['f32', 'f16', 'int8'];
const log = (line: string) => console.error(`bench:payload-accuracy: ${line}`);
const round = (v: number, d = 6) => Number(v.toFixed(d));

const o = parseSetupArgs(process.argv.slice(2));
const { split, source } = await loadSplit(o);
const m = await trainedDuet(o, split, source, log);
const test = split.test;
const L = test.clickLength;
const layout = splitDuet(m.duet).layout;

// Rows are grouped by user; a user's rows share one history (one parameter vector).
const groups: Array<[number, number]> = [];
for (let r = 0; r < test.size;) {
  let e = r + 1;
  while (e < test.size && test.user[e] === test.user[r]) e++;
  groups.push([r, e]);
  r = e;
}
const scores: Record<PayloadFormat, Float32Array> = {
  f32: new Float32Array(test.size), f16: new Float32Array(test.size), int8: new Float32Array(test.size),
};
const paramError: Record<PayloadFormat, number> = { f32: 0, f16: 0, int8: 0 };
let splitError = 0;
const t0 = performance.now();
const CHUNK = 40; // users per forward pass
for (let g = 0; g < groups.length; g += CHUNK) {
  const chunk = groups.slice(g, g + CHUNK);
  const histories = new Int32Array(chunk.length * L);
  chunk.forEach(([r], i) => histories.set(test.click.subarray(r * L, (r + 1) * L), i * L));
  const params = generate(m.generator, histories, L);
  const start = chunk[0][0];
  const end = chunk[chunk.length - 1][1];
  const n = end - start;
  const targets = test.target.subarray(start, end);
  const clicks = test.click.subarray(start * L, end * L);
  for (const format of FORMATS) {
    const perRow = new Float32Array(n * m.total);
    chunk.forEach(([r, e], i) => {
      const values = params.subarray(i * m.total, (i + 1) * m.total);
      const decoded = decodePayload(encodePayload(values, { layout, fingerprint: m.fingerprint, format })).values;
      for (let k = 0; k < decoded.length; k++) paramError[format] = Math.max(paramError[format], Math.abs(decoded[k] - values[k]));
      for (let row = r; row < e; row++) perRow.set(decoded, (row - start) * m.total);
    });
    scores[format].set(deviceScores(m.device, targets, clicks, perRow, L, m.total), start);
  }
  // The split loop must reproduce the full model (f32 parameters, same inputs).
  const full = tf.tidy(() => m.duet.predict([
    tf.tensor2d(Float32Array.from(targets), [n, 1]), tf.tensor2d(Float32Array.from(clicks), [n, L]),
  ]) as tf.Tensor);
  const fullScores = full.dataSync();
  full.dispose();
  for (let i = 0; i < n; i++) splitError = Math.max(splitError, Math.abs(fullScores[i] - scores.f32[start + i]));
  if ((g / CHUNK) % 5 === 0) log(`${Math.min(g + CHUNK, groups.length)}/${groups.length} users`);
}
const seconds = (performance.now() - t0) / 1000;
const base = { auc: auc(scores.f32, test.label), uauc: uauc(scores.f32, test.label, test.user),
  ndcg: ndcgAtK(scores.f32, test.label, test.user, 10) };
for (const format of FORMATS) {
  const a = auc(scores[format], test.label);
  const u = uauc(scores[format], test.label, test.user);
  const nd = ndcgAtK(scores[format], test.label, test.user, 10);
  console.log(JSON.stringify({
    bench: 'payload_accuracy', data: source, model: 'sasrec-duet', backend: m.backend, users: groups.length,
    rows: test.size, format, bytesPerUser: payloadByteLength(layout, { format }), parameters: m.total,
    auc: round(a), uauc: round(u), 'ndcg@10': round(nd),
    deltaAuc: round(a - base.auc, 7), deltaUauc: round(u - base.uauc, 7), deltaNdcg10: round(nd - base.ndcg, 7),
    maxParamError: round(paramError[format], 7),
    target: format === 'f16' ? 0.001 : format === 'int8' ? 0.005 : null,
    withinTarget: format === 'f32' ? null : Math.abs(a - base.auc) <= (format === 'f16' ? 0.001 : 0.005),
  }));
}
console.log(JSON.stringify({ bench: 'payload_accuracy', check: 'split', maxScoreDiffDeviceVsFullModel: round(splitError, 8),
  trainedAuc: m.auc, seconds: round(seconds, 1) }));

// Bytes per user for the three reference models at their default sizes, on this data's catalogue.
for (const kind of ['sasrec', 'gru4rec', 'din'] as ModelKind[]) {
  const { model } = createModel({ model: kind, variant: 'duet', numItems: test.numItems, clickLength: L } as Parameters<typeof createModel>[0]);
  const l = splitDuet(model).layout;
  console.log(JSON.stringify({
    bench: 'payload_bytes', model: `${kind}-duet`, parameters: l.total,
    bytesPerUser: Object.fromEntries(FORMATS.map((f) => [f, payloadByteLength(l, { format: f })])),
  }));
  model.dispose();
}
