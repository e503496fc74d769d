// The generator on the server's thread here (fast start-up); with a generator thread, reloads are in generator_thread.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { generatorFingerprint } from '../../src/serve/fingerprint';
import { decodePayload } from '../../src/serve/payload';
import { createServer } from '../../src/serve/server';
import { listModelVersions, resolveModelSource } from '../../src/serve/versions/model_versions';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { RawConnection } from './raw_http';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-versions-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const models = [1, 2, 3].map((seed) => tinyDuet({ seed: 20 + seed }));
const FP = models.map((m) => generatorFingerprint(m.generator));

describe('model versions on disk', () => {
  it('lists complete numbered versions only, resolves the newest or a pinned one', async () => {
    const dir = path.join(root, 'listing');
    await saveDuet(models[0].duet, path.join(dir, '1'));
    await saveDuet(models[1].duet, path.join(dir, '2'));
    fs.mkdirSync(path.join(dir, '3')); // being copied by hand: no model.json yet
    fs.mkdirSync(path.join(dir, '.4.partial-1-abc')); // a save in progress
    await saveDuet(models[2].duet, path.join(dir, '007'));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    expect(await listModelVersions(dir)).toEqual([1, 2]);
    expect(await resolveModelSource(dir)).toEqual({ root: dir, version: 2, path: path.join(dir, '2') });
    expect((await resolveModelSource(dir, 1)).path).toBe(path.join(dir, '1'));
    await expect(resolveModelSource(dir, 9)).rejects.toThrow(`model folder '${dir}' has no complete version 9 (versions: 1, 2)`);
    // A plain model folder is one unversioned model.
    expect(await resolveModelSource(path.join(dir, '2'))).toMatchObject({ version: null, path: path.join(dir, '2') });
    fs.mkdirSync(path.join(root, 'empty'));
    await expect(resolveModelSource(path.join(root, 'empty'))).rejects.toThrow('holds no model.json and no numbered version folder');
  });
});

describe('createServer on a folder of versions', () => {
  it('serves the newest, switches on reload after loading it, finishes in-flight requests on the old one, refuses broken versions', async () => {
    const dir = path.join(root, 'served');
    await saveDuet(models[0].duet, path.join(dir, '1'));
    const logs: string[] = [];
    // A long batching delay keeps a request in flight on version 1 across the switch.
    const server = await createServer({ model: dir, maxWaitMs: 60_000, log: (m) => logs.push(m), generatorThread: false });
    const { url, port } = await server.listen(0);
    try {
      expect(json(await request(`${url}/v1/model`))).toMatchObject({ version: 1, fingerprint: FP[0] });
      const inFlight = await RawConnection.open(port);
      inFlight.send('POST', '/v1/parameters?format=f32', JSON.stringify({ sequence: [4, 5] }));
      while (!/^duet_http_inflight_requests 1$/m.test(await server.metrics())) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50)); // its body read and queued

      await saveDuet(models[1].duet, path.join(dir, '2'));
      expect(await server.reload()).toEqual({ switched: true, version: 2, fingerprint: FP[1] });
      const old = await inFlight.answer();
      expect(old.status).toBe(200);
      expect(decodePayload(new Uint8Array(old.body)).fingerprint).toBe(FP[0]);
      expect(maxDiff(decodePayload(new Uint8Array(old.body)).values, direct(models[0].generator, [4, 5]))).toBeLessThan(1e-6);
      expect(server.version).toBe(2);
      expect(json(await request(`${url}/v1/model`))).toMatchObject({ version: 2, fingerprint: FP[1] });
      expect(json(await request(`${url}/readyz`))).toMatchObject({ status: 'ready', version: 2 });
      expect(logs.some((l) => l.includes('now serving version 2'))).toBe(true);
      // Nothing newer: no switch.
      expect((await server.reload()).switched).toBe(false);

      // A version whose model.json is corrupt: not switched to, version 2 stays.
      fs.mkdirSync(path.join(dir, '3'));
      fs.writeFileSync(path.join(dir, '3', 'model.json'), '{"modelTopology": ');
      await expect(server.reload()).rejects.toThrow(/cannot load the model in '.*\/3'.*not valid JSON/);
      fs.rmSync(path.join(dir, '3'), { recursive: true });
      // A version with NaN weights: refused naming the layer.
      const nan = tinyDuet({ seed: 30 });
      const g = nan.duet.getLayer('duetGenerator');
      g.setWeights(g.getWeights().map((w, i) => (i === 1 ? tf.fill(w.shape, NaN) : w)));
      await saveDuet(nan.duet, path.join(dir, '4'));
      await expect(server.reload()).rejects.toThrow(/layer 'duetGenerator' of model .* has non-finite weights/);
      expect(server.version).toBe(2);
      // New requests go to version 2 (answered when the drain flushes the batching delay).
      const pending = post(`${url}/v1/parameters?format=f32`, { sequence: [7] });
      while (!/^duet_http_inflight_requests 1$/m.test(await server.metrics())) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      await server.close();
      const r = await pending;
      expect(decodePayload(new Uint8Array(r.body)).fingerprint).toBe(FP[1]);
      expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(models[1].generator, [7]))).toBeLessThan(1e-6);
      inFlight.close();
    } finally {
      await server.close();
    }
  });

  it('polls for new versions (pollSeconds) and serves a pinned version when asked', async () => {
    const dir = path.join(root, 'polled');
    await saveDuet(models[0].duet, path.join(dir, '1'));
    const pinned = await createServer({ model: dir, version: 1, generatorThread: false });
    expect(pinned.version).toBe(1);
    await pinned.close();
    const server = await createServer({ model: dir, pollSeconds: 0.05, generatorThread: false });
    try {
      expect(server.version).toBe(1);
      await saveDuet(models[2].duet, path.join(dir, '5'));
      const end = Date.now() + 30_000;
      while (server.version !== 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(server.version).toBe(5);
      expect(server.info.fingerprint).toBe(FP[2]);
    } finally {
      await server.close();
    }
  });
});
