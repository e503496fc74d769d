import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { createDeviceRuntime, DeviceRuntimeOptions } from '../../src/device/device_runtime';
import { FetchLike } from '../../src/device/fetch_parameters';
import { everyN } from '../../src/device/policies';
import { generatorEmbeddingTable } from '../../src/serve/embedding_table';
import { generatorFingerprint } from '../../src/serve/fingerprint';
import { encodePayload, payloadByteLength } from '../../src/serve/payload';
import { createServer, ServerHandle } from '../../src/serve/server';
import { stampDeviceModel } from '../../src/serve/stamp_device_model';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { fileSystem, saveDuet } from '../../src/wrap/file_io';
import { splitDuet } from '../../src/wrap/split_duet';
import { splitTwoTower } from '../../src/wrap/two_tower';
import { direct, FEATURES, maxDiff, padded, tinyDuet } from '../serve/tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-device-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Deterministic features per candidate item. */
function features(candidates: readonly number[]): tf.Tensor2D {
  return tf.tensor2d(candidates.map((id) => Array.from({ length: FEATURES }, (_, j) => Math.sin(id * (j + 1) * 0.7))));
}

/** The DUET model's own scores for a user's history (what the split loop must reproduce). */
function duetScores(duet: tfl.LayersModel, candidates: number[], history: number[]): number[] {
  const out = tf.tidy(() => duet.predict([features(candidates), tf.tile(tf.tensor2d([padded(history)]), [candidates.length, 1])]) as tf.Tensor);
  const scores = Array.from(out.dataSync());
  out.dispose();
  return scores;
}

const parts = tinyDuet();
const { duet, generator, device } = parts;
const meta = stampDeviceModel(parts);
const CANDIDATES = [3, 8, 12, 17, 21, 25, 29];

/** A fetch that records bodies and forwards to the real one. */
function recordingFetch() {
  const bodies: any[] = [];
  const f: FetchLike = (url, init) => {
    bodies.push(JSON.parse(init.body));
    return fetch(url, init) as ReturnType<FetchLike>;
  };
  return { bodies, fetch: f };
}

describe('DeviceRuntime with a live service', () => {
  let server: ServerHandle;
  let url: string;
  beforeAll(async () => {
    server = await createServer({ model: generator, maxWaitMs: 1 });
    url = (await server.listen(0)).url;
  });
  afterAll(() => server.close());

  const runtime = (extra: Partial<DeviceRuntimeOptions> = {}) => createDeviceRuntime({
    model: device, serviceUrl: url, format: 'f32', inputs: (c) => [features(c)], ...extra,
  });

  it('reads fingerprint and layout from the stamped model; top-K equals the DUET model', async () => {
    const rt = await runtime();
    expect(rt.fingerprint).toBe(generatorFingerprint(generator));
    expect(rt.layout).toEqual(meta.layout);
    rt.observe('u', [4, 9, 2]);
    const before = tf.memory().numTensors;
    const { items, parameters } = await rt.topK('u', CANDIDATES, 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(parameters).toMatchObject({ source: 'service', reason: null, requested: true });
    expect(maxDiff(parameters.values, direct(generator, [4, 9, 2]))).toBeLessThan(1e-6);
    const expected = duetScores(duet, CANDIDATES, [4, 9, 2]);
    const order = CANDIDATES.map((id, i) => ({ id, s: expected[i] })).sort((a, b) => b.s - a.s).slice(0, 3);
    expect(items.map((i) => i.id)).toEqual(order.map((o) => o.id));
    items.forEach((item, k) => expect(item.score).toBeCloseTo(order[k].s, 5));
    // Personalisation matters: another history ranks with other scores.
    rt.observe('v', [28, 27, 26, 25]);
    const other = await rt.score('v', [features(CANDIDATES)]);
    expect(maxDiff(other.scores, expected)).toBeGreaterThan(1e-4);
  });

  it('f16 and int8 payloads score close to f32', async () => {
    const history = [1, 5, 7, 11];
    const exact = duetScores(duet, CANDIDATES, history);
    for (const [format, tol] of [['f16', 1e-3], ['int8', 2e-2]] as const) {
      const rt = await runtime({ format });
      rt.observe('u', history);
      const { scores } = await rt.score('u', [features(CANDIDATES)]);
      expect(maxDiff(scores, exact), format).toBeLessThan(tol);
    }
  });

  it('privacy mode sends embeddings, never ids, and gets the same parameters', async () => {
    const table = generatorEmbeddingTable(generator);
    const rec = recordingFetch();
    const rt = await runtime({ embeddingTable: table, fetch: rec.fetch });
    rt.observe('u', [6, 13, 2]);
    const p = await rt.parameters('u');
    expect(p.source).toBe('service');
    expect(Object.keys(rec.bodies[0])).toEqual(['embeddings']);
    expect(rec.bodies[0].embeddings).toHaveLength(3);
    expect(JSON.stringify(rec.bodies[0])).not.toContain('sequence');
    expect(maxDiff(p.values, direct(generator, [6, 13, 2]))).toBeLessThan(1e-5);
    table.dispose();
  });

  it('everyN policy: cache between requests, and the TTL forces a refresh', async () => {
    let now = 0;
    const rec = recordingFetch();
    const rt = await runtime({ policy: everyN(3), cacheTtlMs: 1000, clock: () => now, fetch: rec.fetch });
    rt.observe('u', 5);
    expect((await rt.parameters('u')).source).toBe('service');      // nothing cached yet
    rt.observe('u', 6);
    rt.observe('u', 7);
    const cached = await rt.parameters('u');
    expect(cached).toMatchObject({ source: 'cache', requested: false, reason: null });
    expect(maxDiff(cached.values, direct(generator, [5]))).toBeLessThan(1e-6);
    rt.observe('u', 8);                                               // third new interaction
    const fresh = await rt.parameters('u');
    expect(fresh.source).toBe('service');
    expect(maxDiff(fresh.values, direct(generator, [5, 6, 7, 8]))).toBeLessThan(1e-6);
    expect(rec.bodies.map((b) => b.sequence)).toEqual([[5], [5, 6, 7, 8]]);
    now += 1001;                                                      // expired: ask regardless
    expect((await rt.parameters('u')).source).toBe('service');
    expect(rt.stats()).toMatchObject({ calls: 4, requests: 3, successes: 3, cacheHits: 1, baseUses: 0 });
  });

  it('concurrent calls for one user share one request', async () => {
    const rec = recordingFetch();
    const rt = await runtime({ fetch: rec.fetch });
    rt.observe('u', [1, 2]);
    const [a, b] = await Promise.all([rt.parameters('u'), rt.parameters('u')]);
    expect(rec.bodies).toHaveLength(1);
    expect(a.values).toBe(b.values);
  });

  it('falls back with a reason: fingerprint mismatch, HTTP error, bad payload', async () => {
    // Another generator with the same layout: its parameters must not be applied here.
    const foreign = await createServer({ model: tinyDuet({ seed: 7 }).generator });
    const foreignUrl = (await foreign.listen(0)).url;
    try {
      const rt = await runtime({ serviceUrl: foreignUrl });
      rt.observe('u', [1]);
      const p = await rt.parameters('u');
      expect(p).toMatchObject({ source: 'base', reason: 'fingerprint', requested: false });
      expect(p.message).toContain(`this device model belongs to ${rt.fingerprint}`);
      expect(Array.from(p.values).every((v) => v === 0)).toBe(true); // residual: the static model
    } finally {
      await foreign.close();
    }
    const locked = await createServer({ model: generator, token: 'secret' });
    const lockedUrl = (await locked.listen(0)).url;
    try {
      const rt = await runtime({ serviceUrl: lockedUrl });
      rt.observe('u', [1]);
      const p = await rt.parameters('u');
      expect(p).toMatchObject({ source: 'base', reason: 'http' });
      expect(p.message).toContain('401');
      const withToken = await runtime({ serviceUrl: lockedUrl, token: 'secret' });
      withToken.observe('u', [1]);
      expect((await withToken.parameters('u')).source).toBe('service');
    } finally {
      await locked.close();
    }
    const garbage: FetchLike = async () => ({ ok: true, status: 200, arrayBuffer: async () => new Uint8Array([1, 2, 3]).buffer, text: async () => '' });
    const rt = await runtime({ fetch: garbage });
    rt.observe('u', [1]);
    expect(await rt.parameters('u')).toMatchObject({ source: 'base', reason: 'payload' });
  });
});

describe('DeviceRuntime without a service', () => {
  const base = (extra: Partial<DeviceRuntimeOptions>) => createDeviceRuntime({
    model: device, serviceUrl: 'http://127.0.0.1:9', format: 'f32', inputs: (c) => [features(c)], retryAfterMs: 0, ...extra,
  });

  it('unreachable: scores with the static model, i.e. all-zero residual parameters', async () => {
    const rt = await base({});
    rt.observe('u', [3, 4]);
    const { scores, parameters } = await rt.score('u', [features(CANDIDATES)]);
    expect(parameters).toMatchObject({ source: 'base', reason: 'unreachable', requested: false });
    const out = tf.tidy(() => device.predict([features(CANDIDATES), tf.zeros([CANDIDATES.length, parameters.values.length])]) as tf.Tensor);
    const zeros = Array.from(out.dataSync());
    out.dispose();
    expect(maxDiff(scores, zeros)).toBeLessThan(1e-6);
    expect(rt.stats().failures.unreachable).toBe(1);
  });

  it('timeout: a hanging service is abandoned after timeoutMs', async () => {
    let aborted = false;
    const hanging: FetchLike = (_url, init) => new Promise((_resolve, reject) => {
      init.signal.addEventListener('abort', () => {
        aborted = true;
        reject(new Error('aborted'));
      });
    });
    const rt = await base({ fetch: hanging, timeoutMs: 30 });
    rt.observe('u', [3]);
    expect(await rt.parameters('u')).toMatchObject({ source: 'base', reason: 'timeout' });
    expect(aborted).toBe(true);
  });

  it('after a failure: stale-but-valid cache first, and no retry within retryAfterMs', async () => {
    let now = 0;
    let up = true;
    let calls = 0;
    const flaky: FetchLike = async (url, init) => {
      calls++;
      if (!up) throw new Error('connection refused');
      const { url: real } = await ensureServer();
      return fetch(url.replace(/^http:\/\/[^/]+/, real), init) as ReturnType<FetchLike>;
    };
    const rt = await base({ fetch: flaky, clock: () => now, retryAfterMs: 500 });
    rt.observe('u', [2, 3]);
    expect((await rt.parameters('u')).source).toBe('service');
    up = false;
    rt.observe('u', 4);
    const stale = await rt.parameters('u');
    expect(stale).toMatchObject({ source: 'cache', reason: 'unreachable' });
    expect(maxDiff(stale.values, direct(generator, [2, 3]))).toBeLessThan(1e-6);
    expect(calls).toBe(2);
    now += 100;
    expect(await rt.parameters('u')).toMatchObject({ source: 'cache', reason: 'unreachable' });
    expect(calls).toBe(2); // within retryAfterMs: no new request
    up = true;
    now += 500;
    const back = await rt.parameters('u');
    expect(back.source).toBe('service');
    expect(maxDiff(back.values, direct(generator, [2, 3, 4]))).toBeLessThan(1e-6);
    await closeServer();
  });

  it('no history: base parameters, no request', async () => {
    let calls = 0;
    const rt = await base({ fetch: async () => { calls++; throw new Error('unused'); } });
    expect(await rt.parameters('nobody')).toMatchObject({ source: 'base', reason: 'no-history' });
    expect(calls).toBe(0);
  });
});

describe('createDeviceRuntime: loading and checks', () => {
  it('loads a stamped device model from a directory (IOHandler) and knows its fingerprint', async () => {
    const dir = path.join(root, 'device');
    await saveDuet(device, dir);
    const rt = await createDeviceRuntime({ model: fileSystem(dir), serviceUrl: 'http://127.0.0.1:9' });
    expect(rt.fingerprint).toBe(meta.fingerprint);
    rt.dispose();
  });

  it('non-residual models need base parameters: from the stamp, or rejected', async () => {
    const nr = tinyDuet({ residual: false, seed: 4 });
    await expect(createDeviceRuntime({ model: nr.device, serviceUrl: 'http://x.test', fingerprint: 'aaaaaaaaaaaaaaaa' }))
      .rejects.toThrow('has non-residual dynamic layers, so all-zero parameters are no fallback');
    const stamp = stampDeviceModel(nr);
    expect(stamp.baseParameters).toHaveLength(65);
    const rt = await createDeviceRuntime({ model: nr.device, serviceUrl: 'http://127.0.0.1:9', retryAfterMs: 0 });
    rt.observe('u', [1]);
    const p = await rt.parameters('u');
    expect(p.source).toBe('base');
    expect(Array.from(p.values)).toEqual(Array.from(Float32Array.from(stamp.baseParameters!)));
    expect(Array.from(p.values).some((v) => v !== 0)).toBe(true);
  });

  it('refuses a device model with NaN weights, naming the layer', async () => {
    const { device: bad } = tinyDuet({ seed: 6 });
    const hidden = bad.getLayer('hidden');
    hidden.setWeights(hidden.getWeights().map((w, i) => (i === 0 ? tf.fill(w.shape, NaN) : w)));
    await expect(createDeviceRuntime({ model: bad, serviceUrl: 'http://x.test', fingerprint: 'aaaaaaaaaaaaaaaa' }))
      .rejects.toThrow(/'createDeviceRuntime': layer 'hidden' of model .* has non-finite weights/);
  });

  it('rejects bad options with errors naming them', async () => {
    const unstamped = tinyDuet({ seed: 5 }).device;
    await expect(createDeviceRuntime({ model: unstamped, serviceUrl: 'http://x.test' })).rejects.toThrow("needs the generator's 'fingerprint'");
    await expect(createDeviceRuntime({ model: device, serviceUrl: 'x.test' })).rejects.toThrow("'serviceUrl' passed to 'createDeviceRuntime' must be an http(s) URL");
    await expect(createDeviceRuntime({ model: device, serviceUrl: 'http://x.test', format: 'f64' as never })).rejects.toThrow("'format' passed to 'createDeviceRuntime' must be");
    await expect(createDeviceRuntime({ model: device, serviceUrl: 'http://x.test', fallbackParameters: [1, 2] })).rejects.toThrow("'fallbackParameters' passed to 'createDeviceRuntime' must be 65 finite numbers, got 2");
    await expect(createDeviceRuntime({ model: generator, serviceUrl: 'http://x.test' })).rejects.toThrow('has no DynamicDense layer');
    const rt = await createDeviceRuntime({ model: device, serviceUrl: 'http://x.test' });
    expect(() => rt.observe('u', [0])).toThrow("'items' passed to 'DeviceRuntime.observe' must be item ids");
    await expect(rt.score('u', [])).rejects.toThrow("'inputs' passed to 'DeviceRuntime.score' must be 1 tensor(s)");
    await expect(rt.topK('u', [1], 1)).rejects.toThrow("needs model inputs");
  });
});

// A server for the flaky-fetch test, started on first use.
let lazy: ServerHandle | null = null;
async function ensureServer() {
  if (lazy === null) {
    lazy = await createServer({ model: generator });
    await lazy.listen(0);
  }
  return lazy.address!;
}
async function closeServer() {
  await lazy?.close();
  lazy = null;
}

describe('DeviceRuntime on a two-tower device model (SASRec, GRU4Rec)', () => {
  const L = 5;
  const offline: FetchLike = async () => {
    throw new Error('offline');
  };

  // The last: the seq-loo-v1 design (a GRU over SASRec's positionEmbedding output generates userTower1).
  const kinds = [
    ['sasrec', 'sasrec', { generator: { init: 'glorot', encoder: 'mean' } }],
    ['gru4rec', 'gru4rec', { generator: { init: 'glorot', encoder: 'mean' } }],
    ['sasrec, positions condition', 'sasrec', {
      sequenceTransform: false, norm: 'pre', numBlocks: 2, dynamicLayers: ['userTower1'],
      generator: { init: 'glorot', condition: 'positions', encoder: 'gru' },
    }],
  ] as const;
  for (const [label, kind, extra] of kinds) {
    it(`${label}: the user side once, scores equal the tiled device model, shared 1-row click accepted`, async () => {
      const { model: duet } = createModel({
        model: kind, variant: 'duet', itemBias: true, numItems: 30, clickLength: L, dim: 8, seed: 2,
        ...(kind === 'sasrec' ? { numHeads: 2 } : {}), ...extra,
      } as CreateModelOptions);
      duet.getLayer('itemBias').setWeights([tf.randomNormal([31, 1], 0, 1, 'float32', 3)]);
      const split = splitDuet(duet);
      const history = [4, 9, 2];
      const click = [...history, 0, 0];
      // Fallback parameters generated for this history: the runtime runs offline.
      const params = tf.tidy(() => Float32Array.from((split.generator.predict(tf.tensor2d([click])) as tf.Tensor).dataSync()));
      const rt = await createDeviceRuntime({
        model: split.device, serviceUrl: 'http://x.test', fingerprint: 'aaaaaaaaaaaaaaaa',
        fallbackParameters: params, fetch: offline, retryAfterMs: 0,
        inputs: (c, h) => [tf.tensor2d([...c], [c.length, 1]), tf.tensor2d([[...h, 0, 0, 0, 0, 0].slice(0, L)])],
      });
      expect(rt.scoring).toEqual({ path: 'two-tower', reason: null });
      rt.observe('u', history);
      const n = CANDIDATES.length;
      const want = tf.tidy(() => Array.from((split.device.predict([tf.tensor2d(CANDIDATES, [n, 1]),
        tf.tile(tf.tensor2d([click]), [n, 1]), tf.tile(tf.tensor2d([Array.from(params)]), [n, 1])]) as tf.Tensor).dataSync()));
      // The whole DUET model agrees with its device part.
      const whole = tf.tidy(() => Array.from((duet.predict([tf.tensor2d(CANDIDATES, [n, 1]), tf.tile(tf.tensor2d([click]), [n, 1])]) as tf.Tensor).dataSync()));
      expect(maxDiff(want, whole)).toBeLessThan(1e-5);
      const targets = tf.tensor2d(CANDIDATES, [n, 1]);
      const tiledClick = tf.tile(tf.tensor2d([click]), [n, 1]);
      const oneClick = tf.tensor2d([click]);
      const userRuns = vi.spyOn(splitTwoTower(split.device)!.user, 'apply');
      const before = tf.memory().numTensors;
      for (const clicks of [tiledClick, oneClick]) {
        const { scores, parameters } = await rt.score('u', [targets, clicks]);
        expect(parameters.source).toBe('base');
        expect(maxDiff(scores, want)).toBeLessThan(1e-5);
      }
      const { items } = await rt.topK('u', CANDIDATES, 3);
      const order = CANDIDATES.map((id, i) => ({ id, s: want[i] })).sort((a, b) => b.s - a.s).slice(0, 3);
      expect(items.map((i) => i.id)).toEqual(order.map((o) => o.id));
      // One user-tower run for the three calls (same history and parameters); its vector is kept.
      expect(userRuns).toHaveBeenCalledTimes(1);
      expect(tf.memory().numTensors).toBe(before + 1);
      // Rows with different histories: each row is its own user (the tiled path), still exact.
      const mixed = tf.tensor2d(CANDIDATES.map((_, i) => (i % 2 === 0 ? click : [7, 0, 0, 0, 0])));
      const perRow = tf.tidy(() => Array.from((split.device.predict([targets, mixed,
        tf.tile(tf.tensor2d([Array.from(params)]), [n, 1])]) as tf.Tensor).dataSync()));
      expect(maxDiff((await rt.score('u', [targets, mixed])).scores, perRow)).toBeLessThan(1e-5);
      expect(maxDiff(perRow, want)).toBeGreaterThan(1e-4);
      await expect(rt.score('u', [targets, tf.tile(oneClick, [2, 1])])).rejects
        .toThrow(/'inputs' passed to 'DeviceRuntime.score' must each have 7 rows \(one per candidate\) or 1 row \(shared\), got \[7, 2\]/);
      // A new interaction changes the history row: a new user vector, right scores.
      rt.observe('u', 11);
      const longer = [4, 9, 2, 11, 0];
      const { scores: after } = await rt.score('u', [targets, tf.tensor2d([longer])]);
      const wantAfter = tf.tidy(() => Array.from((split.device.predict([targets, tf.tile(tf.tensor2d([longer]), [n, 1]),
        tf.tile(tf.tensor2d([Array.from(params)]), [n, 1])]) as tf.Tensor).dataSync()));
      expect(maxDiff(after, wantAfter)).toBeLessThan(1e-5);
      expect(userRuns).toHaveBeenCalledTimes(2);
      // Changed weights on the user side (e.g. a new model version loaded in place): recomputed.
      const tower = split.device.getLayer('userTower1');
      tower.setWeights(tower.getWeights().map((w) => tf.mul(w, 1.5)));
      const { scores: reweighted } = await rt.score('u', [targets, tf.tensor2d([longer])]);
      const wantReweighted = tf.tidy(() => Array.from((split.device.predict([targets, tf.tile(tf.tensor2d([longer]), [n, 1]),
        tf.tile(tf.tensor2d([Array.from(params)]), [n, 1])]) as tf.Tensor).dataSync()));
      expect(maxDiff(reweighted, wantReweighted)).toBeLessThan(1e-5);
      expect(maxDiff(reweighted, after)).toBeGreaterThan(1e-4);
      expect(userRuns).toHaveBeenCalledTimes(3);
      userRuns.mockRestore();
      const held = tf.memory().numTensors;
      rt.clearCache();
      expect(tf.memory().numTensors).toBe(held - 1); // the kept user vector
      tf.dispose([targets, tiledClick, oneClick, mixed]);
      rt.dispose();
    });
  }

  it('other parameters for the same history give a new user vector; eviction frees old ones', async () => {
    const { model: duet } = createModel({
      model: 'sasrec', variant: 'duet', numItems: 30, clickLength: L, dim: 8, numHeads: 2, seed: 4,
      generator: { init: 'glorot', encoder: 'mean' },
    } as CreateModelOptions);
    const split = splitDuet(duet);
    const rt = await createDeviceRuntime({
      model: split.device, serviceUrl: 'http://x.test', fingerprint: 'aaaaaaaaaaaaaaaa', fetch: offline,
      fallbackParameters: new Float32Array(split.layout.total).fill(0.01), maxUsers: 2,
    });
    const click = tf.tensor2d([[3, 5, 0, 0, 0]]);
    const targets = tf.tensor2d(CANDIDATES, [CANDIDATES.length, 1]);
    rt.observe('a', [3, 5]);
    const base = await rt.score('a', [targets, click]);
    const before = tf.memory().numTensors;
    // The same user scored with other parameters (as fetched ones would be): no stale vector.
    (rt.baseParameters as Float32Array).fill(-0.02);
    const other = await rt.score('a', [targets, click]);
    expect(maxDiff(other.scores, base.scores)).toBeGreaterThan(1e-4);
    const want = tf.tidy(() => Array.from((split.device.predict([targets, tf.tile(click, [CANDIDATES.length, 1]),
      tf.tile(tf.tensor2d([Array.from(rt.baseParameters)]), [CANDIDATES.length, 1])]) as tf.Tensor).dataSync()));
    expect(maxDiff(other.scores, want)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    // maxUsers = 2: a third user evicts 'a' and its vector.
    rt.observe('b', [1]);
    await rt.score('b', [targets, click]);
    expect(tf.memory().numTensors).toBe(before + 1);
    rt.observe('c', [2]);
    await rt.score('c', [targets, click]);
    expect(tf.memory().numTensors).toBe(before + 1);
    rt.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    tf.dispose([click, targets]);
  });

  it('a model that is not two-tower says why (its tiled scores are checked above)', async () => {
    const rt = await createDeviceRuntime({ model: device, serviceUrl: 'http://x.test', fetch: offline });
    expect(rt.scoring.path).toBe('tiled');
    expect(rt.scoring.reason).toMatch(/is not two-tower: it has no input named 'target' \(its inputs are 'features', 'duetParams'\)/);
  });
});

/** A loopback HTTP server answering every request with `answer`. */
async function fakeService(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const server = http.createServer(answer);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('DeviceRuntime against a faulty or hostile service', () => {
  const runtime = (url: string, extra: Partial<DeviceRuntimeOptions> = {}) => createDeviceRuntime({
    model: device, serviceUrl: url, format: 'f32', inputs: (c) => [features(c)], retryAfterMs: 0, ...extra,
  });
  const expected = payloadByteLength(meta.layout, { format: 'f32' });

  it('the default fetch is called as a plain function (browsers refuse it as another object\'s method)', async () => {
    const server = await createServer({ model: generator });
    const { url } = await server.listen(0);
    const real = globalThis.fetch;
    let calls = 0;
    // What a browser's fetch does when called with another object as `this`.
    const strict = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      if (this !== undefined && this !== globalThis) {
        return Promise.reject(new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation"));
      }
      calls++;
      return real(input, init);
    };
    globalThis.fetch = strict as typeof fetch;
    try {
      const rt = await runtime(url); // no 'fetch' option: the global one
      rt.observe('u', [4, 9]);
      const p = await rt.parameters('u');
      expect(p.message).toBeNull();
      expect(p).toMatchObject({ source: 'service', reason: null, requested: true });
      expect(calls).toBe(1);
      expect(rt.stats().bytesReceived).toBe(expected);
    } finally {
      globalThis.fetch = real;
      await server.close();
    }
  });

  it('an answer larger than the payload is abandoned unread: streamed, or refused by Content-Length', async () => {
    let written = 0;
    let closedEarly = false;
    const total = 256 << 20; // 256 MB if the device kept reading
    const flood = await fakeService((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); // chunked: no length up front
      const chunk = Buffer.alloc(64 << 10, 7);
      res.on('close', () => { closedEarly = written < total; });
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    try {
      const rt = await runtime(flood.url, { timeoutMs: 20_000 });
      rt.observe('u', [1, 2]);
      const p = await rt.parameters('u');
      expect(p).toMatchObject({ source: 'base', reason: 'payload' });
      expect(p.message).toContain(`at most ${expected} bytes`);
      await new Promise((r) => setTimeout(r, 50));
      expect(closedEarly).toBe(true);
      expect(written).toBeLessThan(total / 4);
    } finally {
      await flood.close();
    }
    let bodyRead = false;
    const declared = await fakeService((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(400 << 20) });
      res.write(Buffer.alloc(1024), () => { bodyRead = true; });
    });
    try {
      const rt = await runtime(declared.url);
      rt.observe('u', [1]);
      const p = await rt.parameters('u');
      expect(p).toMatchObject({ source: 'base', reason: 'payload' });
      expect(p.message).toContain(`the answer is ${400 << 20} bytes (Content-Length)`);
    } finally {
      await declared.close();
    }
    expect(bodyRead).toBe(true); // the server did start sending: the refusal is the device's
    // A hand-written fetch without a body stream: measured once read, still refused.
    const big: FetchLike = async () => ({ ok: true, status: 200, text: async () => '',
      arrayBuffer: async () => new ArrayBuffer(expected + 1) });
    const rt = await runtime('http://127.0.0.1:9', { fetch: big });
    rt.observe('u', [1]);
    expect(await rt.parameters('u')).toMatchObject({ source: 'base', reason: 'payload' });
  });

  it('finite but extreme parameters that make the scores non-finite fall back to the static model, reason payload', async () => {
    // A well-formed payload from the right generator whose values overflow the device model.
    const values = new Float32Array(meta.layout.reduce((n, l) => n + l.inputDim * l.outputDim + l.outputDim, 0))
      .map((_, i) => (i % 2 === 0 ? 3e38 : -3e38));
    const bytes = encodePayload(values, { layout: meta.layout, fingerprint: meta.fingerprint, format: 'f32' });
    let requests = 0;
    const hostile = await fakeService((_req, res) => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
      res.end(bytes);
    });
    try {
      const rt = await runtime(hostile.url, { retryAfterMs: 60_000 });
      rt.observe('u', [3, 4]);
      const { scores, parameters } = await rt.score('u', [features(CANDIDATES)]);
      expect(parameters).toMatchObject({ source: 'base', reason: 'payload', requested: true });
      expect(parameters.message).toContain('non-finite scores');
      expect(Array.from(scores).every(Number.isFinite)).toBe(true);
      const out = tf.tidy(() => device.predict([features(CANDIDATES), tf.zeros([CANDIDATES.length, values.length])]) as tf.Tensor);
      expect(maxDiff(scores, out.dataSync())).toBeLessThan(1e-6);
      out.dispose();
      // Not cached: the next call uses the static model too, without asking again (retryAfterMs).
      const again = await rt.score('u', [features(CANDIDATES)]);
      expect(again.parameters).toMatchObject({ source: 'base', reason: 'payload', requested: false });
      expect(requests).toBe(1);
      expect(rt.stats()).toMatchObject({ requests: 1, successes: 0 });
      expect(rt.stats().failures.payload).toBe(1);
    } finally {
      await hostile.close();
    }
  });
});
