/**
 * Request-policy replay: how much of DUET's accuracy each policy keeps for the requests it makes.
 *
 *   npm run bench:policies [-- --data ../shared/data/movielens-latest-small-ratings.csv
 *                              --model-dir /tmp/duet-ml --replay-users 100 --steps 20]
 *
 * Protocol (one JSON line per policy on stdout, progress on stderr):
 * - Replay users: `--replay-users` test users (seeded), whose training rows are held out of
 *   training. A user's replay sequence is their test history (the test rows' click window, up
 *   to L items) followed by their test item.
 * - The user's interactions are replayed in order. At each of the last `--steps` positions t
 *   (with at least `--warmup` items seen) the device has observed items 1..t-1 and predicts item
 *   t: a prediction event. Before it, the DeviceRuntime (one per policy) is told the newest item
 *   and asked for parameters; its policy decides whether that sends a request (to the generator,
 *   called in process through the runtime's `fetch`), otherwise the cached parameters are used.
 * - Candidates: item t plus `--negatives` (default 49) items the user never interacted with
 *   (seeded per user and step, the same for every policy), scored by the device model with the
 *   current click window and the policy's parameters.
 * - Metrics per event, averaged over all events (micro-average): AUC = the share of negatives
 *   scored below item t (ties count ½); NDCG@10 = 1/log2(2 + r) when r < 10, else 0, where r is
 *   the number of negatives scored above item t; HR@10 = [r < 10].
 * - requestFraction = requests sent / prediction events. `never` uses the static parameters
 *   (the base model), `always` requests before every event; `gainKept` = (metric − never) /
 *   (always − never), the share of DUET's gain a policy keeps; `vsAlways` is the mean per-event
 *   difference from `always` with its standard error (the events are paired).
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  createRng, encodePayload, GeneratorRunner, splitDuet,
} from 'duet-tf';

import {
  always, BehaviourSummary, createDeviceRuntime, drift, embeddingMean, everyN, FetchLike, hashedBag,
  RequestPolicy,
} from '../src/device/index';
import { clickRow, deviceScores, loadSplit, parseSetupArgs, trainedDuet } from './device_cloud_setup';

const log = (line: string) => console.error(`bench:policies: ${line}`);
const round = (v: number, d = 4) => Number(v.toFixed(d));

const o = parseSetupArgs(process.argv.slice(2));
const steps = Number(o.rest.get('steps') ?? 20);
const warmup = Number(o.rest.get('warmup') ?? 3);
const negatives = Number(o.rest.get('negatives') ?? 49);
const { split, source } = await loadSplit(o);
const m = await trainedDuet(o, split, source, log);
const { test } = split;
const L = test.clickLength;
const layout = splitDuet(m.duet).layout;
const numItems = test.numItems;

// Replay sequences: the test history (click window, oldest first) + the test item.
const sequences = new Map<number, number[]>();
for (let r = 0; r < test.size; r++) {
  const u = test.user[r];
  if (test.label[r] !== 1 || sequences.has(u) || !m.replayUsers.includes(u)) continue;
  const history = Array.from(test.click.subarray(r * L, (r + 1) * L)).filter((id) => id > 0);
  sequences.set(u, [...history, test.target[r]]);
}
// Items each replay user interacted with anywhere (never drawn as negatives).
const touched = new Map<number, Set<number>>();
for (const ds of [split.train, test]) {
  for (let r = 0; r < ds.size; r++) {
    const u = ds.user[r];
    if (!sequences.has(u)) continue;
    let set = touched.get(u);
    if (set === undefined) touched.set(u, set = new Set());
    if (ds.label[r] === 1) set.add(ds.target[r]);
    for (let j = 0; j < L; j++) if (ds.click[r * L + j] > 0) set.add(ds.click[r * L + j]);
  }
}

// The generator "service", in process: what `duet-tf serve` answers, without HTTP.
const runner = new GeneratorRunner(m.generator);
const payloads = new Map<string, Uint8Array>();
let generatorCalls = 0;
const inProcessFetch: FetchLike = async (_url, init) => {
  const { sequence } = JSON.parse(init.body) as { sequence: number[] };
  const ids = Array.from(clickRow(sequence, L));
  const key = ids.join(',');
  let bytes = payloads.get(key);
  if (bytes === undefined) {
    generatorCalls++;
    const values = await runner.generate([{ kind: 'ids', ids }]);
    bytes = encodePayload(values, { layout, fingerprint: m.fingerprint, format: 'f32' });
    payloads.set(key, bytes);
  }
  const b = bytes;
  return { ok: true, status: 200, text: async () => '', arrayBuffer: async () => b.slice().buffer };
};

// Cheap summaries for drift: a hashed bag of ids, and the mean of the device model's own item
// embeddings (the table the device already holds).
const itemTable = m.device.layers.find((l) => l.name === 'itemEmbedding')?.getWeights()[0] as tf.Tensor2D | undefined;
if (itemTable === undefined) throw new Error(`the device model has no 'itemEmbedding' layer`);
const semantic: BehaviourSummary = embeddingMean(itemTable);
const named = (name: string, p: RequestPolicy): RequestPolicy => ({ name, shouldRequest: p.shouldRequest });
const policies: Array<RequestPolicy | null> = [
  null, // never: the static parameters
  always(),
  ...[2, 3, 5, 10].map((n) => everyN(n)),
  ...[0.2, 0.3, 0.5, 0.7].map((t) => named(`drift(${t}, hashedBag)`, drift(t, { summary: hashedBag(64), window: 10 }))),
  ...[0.05, 0.1, 0.2, 0.4].map((t) => named(`drift(${t}, embeddingMean)`, drift(t, { summary: semantic, window: 10 }))),
];

interface Tally { events: number; requests: number; auc: number; ndcg: number; hr: number; perEvent: { auc: number[]; ndcg: number[] } }
const tallies = policies.map((): Tally => ({ events: 0, requests: 0, auc: 0, ndcg: 0, hr: 0, perEvent: { auc: [], ndcg: [] } }));
const runtimes = await Promise.all(policies.map((p) => p === null ? null : createDeviceRuntime({
  model: m.device, serviceUrl: 'http://in-process.invalid', format: 'f32', policy: p, fetch: inProcessFetch,
  fingerprint: m.fingerprint, clock: () => 0, cacheTtlMs: 0, historyLength: L, maxUsers: 4,
})));
const baseParams = runtimes.find((r) => r !== null)!.baseParameters;

const t0 = performance.now();
let done = 0;
let deviceRows = 0;
for (const [u, seq] of sequences) {
  const first = Math.max(warmup, seq.length - steps);
  if (first >= seq.length) continue;
  const rng = createRng(o.seed * 7919 + u);
  const seen = touched.get(u) ?? new Set(seq);
  // Per event: candidates (positive first) and the parameters each policy used.
  const events: Array<{ t: number; candidates: Int32Array; params: Float32Array[] }> = [];
  for (let t = first; t < seq.length; t++) {
    const candidates = new Int32Array(1 + negatives);
    candidates[0] = seq[t];
    const chosen = new Set<number>();
    for (let k = 1; k <= negatives; k++) {
      let id: number;
      do id = 1 + rng.int(numItems); while (seen.has(id) || chosen.has(id));
      chosen.add(id);
      candidates[k] = id;
    }
    const params: Float32Array[] = [];
    for (let p = 0; p < policies.length; p++) {
      const runtime = runtimes[p];
      if (runtime === null) {
        params.push(baseParams);
        continue;
      }
      runtime.observe(`u${u}`, t === first ? seq.slice(0, t) : [seq[t - 1]]);
      const got = await runtime.parameters(`u${u}`);
      if (got.reason !== null) throw new Error(`policy ${policies[p]!.name}: ${got.reason}: ${got.message}`);
      if (got.requested) tallies[p].requests++;
      params.push(got.values);
    }
    events.push({ t, candidates, params });
  }
  // Score each distinct (event, parameter vector) once: policies often share parameters.
  for (const e of events) {
    const click = clickRow(seq.slice(0, e.t), L);
    const distinct: Float32Array[] = [];
    const index = e.params.map((p) => {
      let i = distinct.findIndex((d) => d === p || (d.length === p.length && d.every((v, k) => v === p[k])));
      if (i < 0) i = distinct.push(p) - 1;
      return i;
    });
    const n = distinct.length * e.candidates.length;
    const targets = new Int32Array(n);
    const clicks = new Int32Array(n * L);
    const params = new Float32Array(n * m.total);
    distinct.forEach((p, d) => {
      for (let c = 0; c < e.candidates.length; c++) {
        const row = d * e.candidates.length + c;
        targets[row] = e.candidates[c];
        clicks.set(click, row * L);
        params.set(p, row * m.total);
      }
    });
    const scores = deviceScores(m.device, targets, clicks, params, L, m.total);
    deviceRows += n;
    index.forEach((d, p) => {
      const s = scores.subarray(d * e.candidates.length, (d + 1) * e.candidates.length);
      let above = 0;
      let ties = 0;
      for (let k = 1; k < s.length; k++) {
        if (s[k] > s[0]) above++;
        else if (s[k] === s[0]) ties++;
      }
      const tally = tallies[p];
      const eventAuc = (negatives - above - ties / 2) / negatives;
      const eventNdcg = above < 10 ? 1 / Math.log2(2 + above) : 0;
      tally.events++;
      tally.auc += eventAuc;
      tally.ndcg += eventNdcg;
      tally.hr += above < 10 ? 1 : 0;
      tally.perEvent.auc.push(eventAuc);
      tally.perEvent.ndcg.push(eventNdcg);
    });
  }
  done++;
  if (done % 20 === 0) log(`${done}/${sequences.size} users, ${tallies[0].events} events, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const mean = (t: Tally, k: 'auc' | 'ndcg' | 'hr') => t[k] / t.events;
/** Mean and standard error of the per-event difference from `always` (the events are paired). */
const vsAlways = (t: Tally, k: 'auc' | 'ndcg') => {
  const a = t.perEvent[k];
  const b = tallies[1].perEvent[k];
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d;
    sq += d * d;
  }
  const n = a.length;
  const m = sum / n;
  return { diff: round(m, 5), se: round(Math.sqrt(Math.max(0, sq / n - m * m) / Math.max(1, n - 1)), 5) };
};
const never = tallies[0];
const all = tallies[1];
for (let p = 0; p < policies.length; p++) {
  const t = tallies[p];
  const kept = (k: 'auc' | 'ndcg' | 'hr') => {
    const gain = mean(all, k) - mean(never, k);
    return gain === 0 ? null : round((mean(t, k) - mean(never, k)) / gain, 3);
  };
  console.log(JSON.stringify({
    bench: 'policies', data: source, model: 'sasrec-duet', policy: policies[p]?.name ?? 'never',
    users: done, events: t.events, requests: t.requests, requestFraction: round(t.requests / t.events),
    auc: round(mean(t, 'auc')), 'ndcg@10': round(mean(t, 'ndcg')), 'hr@10': round(mean(t, 'hr')),
    gainKept: { auc: kept('auc'), 'ndcg@10': kept('ndcg') },
    vsAlways: { auc: vsAlways(t, 'auc'), 'ndcg@10': vsAlways(t, 'ndcg') },
  }));
}
console.log(JSON.stringify({ bench: 'policies', summary: true, data: source, backend: m.backend, users: done,
  events: never.events, negatives, steps, warmup, generatorCalls, deviceRows, trainedAuc: m.auc,
  seconds: round((performance.now() - t0) / 1000, 1) }));
runtimes.forEach((r) => r?.dispose());
runner.dispose();
