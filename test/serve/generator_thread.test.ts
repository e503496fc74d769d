/**
 * The generator in a worker thread of its own (`generatorThread`, the default for a model
 * folder): the same outputs as on the server's thread, a thread that dies (500
 * `generator_failed`, readiness `failed`, a reload recovers), reload and shutdown.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { GeneratorRunner } from '../../src/serve/generator_runner';
import { loadGenerator } from '../../src/serve/load_generator';
import { decodePayload } from '../../src/serve/payload';
import type { GeneratorRow } from '../../src/serve/requests';
import { createServer } from '../../src/serve/server';
import { GeneratorThread } from '../../src/serve/thread/generator_thread';
import { EXIT_AFTER_ENV } from '../../src/serve/thread/protocol';
import { useGeneratorThread } from '../../src/serve/thread/use_thread';
import { duetWrap } from '../../src/wrap/duet_wrap';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { direct, FEATURES, LENGTH, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-gen-thread-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const until = async (check: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

describe('generator thread', () => {
  it('gives the same parameters as the generator on this thread, for ids, embeddings and mixed batches, over HTTP too', async () => {
    const dir = path.join(root, 'same');
    const { duet, generator } = tinyDuet({ seed: 41, encoder: 'gru' });
    await saveDuet(duet, dir);
    const thread = await GeneratorThread.start({ path: dir, backend: tf.getBackend(), warmupRows: 8 });
    const runner = new GeneratorRunner(await loadGenerator(dir));
    try {
      expect(thread.info).toEqual(runner.info);
      expect(thread.limits).toEqual(runner.limits);
      expect(thread.warmup.rows).toBe(8);
      expect(thread.warmup.seconds).toBeGreaterThan(0);
      const dim = runner.info.embeddingDim as number;
      const rows: GeneratorRow[] = [
        { kind: 'ids', ids: [1, 2, 3] },
        { kind: 'embeddings', vectors: Float32Array.from({ length: 2 * dim }, (_, i) => Math.sin(i)), time: 2 },
        { kind: 'ids', ids: Array.from({ length: LENGTH }, (_, i) => 20 - i) },
        { kind: 'ids', ids: [7] },
      ];
      for (const batch of [rows, rows.filter((r) => r.kind === 'ids'), [rows[1]]]) {
        const local = await runner.generate(batch);
        const { values, seconds } = await thread.generate(batch);
        expect(values.length).toBe(batch.length * runner.info.total);
        expect(Array.from(values)).toEqual(Array.from(local)); // same backend, same code: bit for bit
        expect(seconds).toBeGreaterThan(0);
      }
    } finally {
      runner.dispose();
      await thread.terminate();
    }
    expect(await thread.generate([{ kind: 'ids', ids: [1] }]).catch((e) => e))
      .toMatchObject({ status: 500, code: 'generator_failed' });

    // Through the service: the default for a folder is the thread; off runs it here.
    const on = await createServer({ model: dir });
    const off = await createServer({ model: dir, generatorThread: false });
    expect([on.generatorThread, off.generatorThread]).toEqual([true, false]);
    try {
      const urls = [(await on.listen(0)).url, (await off.listen(0)).url];
      const body = { sequences: [[3, 9, 27], [1], [5, 4, 3, 2, 1, 6]] };
      const [a, b] = await Promise.all(urls.map((u) => post(`${u}/v1/parameters?format=f32`, body)));
      expect(a.status).toBe(200);
      expect(Buffer.from(a.body).equals(Buffer.from(b.body))).toBe(true);
      const p = decodePayload(new Uint8Array(a.body));
      expect(maxDiff(p.values.subarray(0, p.total), direct(generator, [3, 9, 27]))).toBeLessThan(1e-6);
    } finally {
      await Promise.all([on.close(), off.close()]);
    }
    expect(await until(() => GeneratorThread.running === 0)).toBe(true);
  });

  it('refuses a thread for a model in memory, naming the option; defaults: on for a folder on wasm or cpu, off for tfjs-node and models in memory', async () => {
    await expect(createServer({ model: tinyDuet({ seed: 42 }).generator, generatorThread: true }))
      .rejects.toThrow(`'generatorThread' passed to 'createServer' needs a model folder`);
    expect(useGeneratorThread(undefined, { folder: true, backend: 'wasm' })).toBe(true);
    expect(useGeneratorThread(undefined, { folder: true, backend: 'cpu' })).toBe(true);
    expect(useGeneratorThread(undefined, { folder: false, backend: 'wasm' })).toBe(false);
    // tfjs-node's binding does not load in a second thread of a process.
    expect(useGeneratorThread(undefined, { folder: true, backend: 'tensorflow' })).toBe(false);
    expect(useGeneratorThread(false, { folder: true, backend: 'wasm' })).toBe(false);
    expect(() => useGeneratorThread(true, { folder: true, backend: 'tensorflow' }))
      .toThrow("cannot be used with the 'tensorflow' backend");
    expect(() => useGeneratorThread('on', { folder: true, backend: 'wasm' })).toThrow('must be true or false, got on');
  });

  it('a model with layer classes of its own (registered here only) does not load in the thread, saying what to do; generatorThread: false serves it', async () => {
    class Doubler extends tfl.layers.Layer {
      static className = 'TestOnlyDoubler';
      override call(inputs: tf.Tensor | tf.Tensor[]) {
        return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2));
      }
    }
    tf.serialization.registerClass(Doubler);
    const x = tfl.input({ shape: [FEATURES], name: 'features' });
    const h = tfl.layers.dense({ units: 4, activation: 'relu', name: 'hidden' }).apply(new Doubler({}).apply(x));
    const y = tfl.layers.dense({ units: 1, name: 'out' }).apply(h) as tfl.SymbolicTensor;
    const duet = duetWrap(tfl.model({ inputs: x, outputs: y }), { condition: { length: LENGTH },
      generator: { vocabSize: 30, embeddingDim: 8, seed: 3 } });
    const dir = path.join(root, 'custom');
    await saveDuet(duet, dir);
    await expect(createServer({ model: dir })).rejects.toThrow(
      /Unknown layer: TestOnlyDoubler.*for a model with layer classes of your own, use generatorThread: false/s);
    const server = await createServer({ model: dir, generatorThread: false });
    try {
      const { url } = await server.listen(0);
      expect((await post(`${url}/v1/parameters?format=f32`, { sequence: [1, 2] })).status).toBe(200);
    } finally {
      await server.close();
    }
    expect(await until(() => GeneratorThread.running === 0)).toBe(true);
  });

  it('a thread that dies: pending and later requests get 500 generator_failed, readiness and liveness say failed, the owner is told; a reload starts a new thread', async () => {
    const dir = path.join(root, 'dies');
    const { duet, generator } = tinyDuet({ seed: 43 });
    await saveDuet(duet, dir);
    const failures: Error[] = [];
    // The thread exits on its first call (after its warm-up): a test hook read by the thread.
    process.env[EXIT_AFTER_ENV] = '0';
    let server;
    try {
      server = await createServer({ model: dir, maxWaitMs: 0, onGeneratorFailure: (e) => failures.push(e) });
    } finally {
      delete process.env[EXIT_AFTER_ENV];
    }
    const { url } = await server.listen(0);
    try {
      expect(server.readiness()).toBe('ready');
      const pending = await request(`${url}/v1/parameters`, { method: 'POST',
        body: JSON.stringify({ sequence: [1, 2] }), headers: { accept: 'application/json' } });
      expect(pending.status).toBe(500);
      expect(pending.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(json(pending).error).toMatchObject({ code: 'generator_failed' });
      expect(json(pending).error.message).toContain('the generator thread exited (code 70)');
      expect(await until(() => failures.length === 1)).toBe(true);
      expect(failures[0].message).toContain('the generator thread exited (code 70)');
      expect(server.readiness()).toBe('failed');
      const ready = await request(`${url}/readyz`);
      expect([ready.status, json(ready).status]).toEqual([503, 'failed']);
      const live = await request(`${url}/healthz`);
      expect([live.status, json(live).status]).toEqual([503, 'failed']);
      const later = await post(`${url}/v1/parameters?format=f32`, { sequence: [3] });
      expect(later.status).toBe(500);
      expect(json(later).error.code).toBe('generator_failed');
      expect(await server.metrics()).toMatch(/^duet_http_errors_total\{code="generator_failed"\} 2$/m);

      // The same version again, in a new thread: served, ready.
      expect(await server.reload()).toMatchObject({ switched: true });
      expect(server.readiness()).toBe('ready');
      const ok = await post(`${url}/v1/parameters?format=f32`, { sequence: [3] });
      expect(ok.status).toBe(200);
      expect(maxDiff(decodePayload(new Uint8Array(ok.body)).values, direct(generator, [3]))).toBeLessThan(1e-6);
      expect(failures).toHaveLength(1);
    } finally {
      await server.close();
    }
    expect(await until(() => GeneratorThread.running === 0)).toBe(true);
  });

  it('reload: the new version loads and warms in a new thread, the switch is atomic, the old thread drains and is terminated; close leaves no thread', async () => {
    const dir = path.join(root, 'versions');
    const models = [tinyDuet({ seed: 44 }), tinyDuet({ seed: 45 })];
    await saveDuet(models[0].duet, path.join(dir, '1'));
    const server = await createServer({ model: dir });
    const { url } = await server.listen(0);
    let stop = false;
    let traffic: Promise<void> = Promise.resolve();
    try {
      expect(GeneratorThread.running).toBe(1);
      await saveDuet(models[1].duet, path.join(dir, '2'));
      // Requests go on during the reload: each is answered by one version or the other, whole.
      const answers: string[] = [];
      traffic = (async () => {
        while (!stop) {
          const r = await post(`${url}/v1/parameters?format=f32`, { sequence: [4, 5] });
          expect(r.status).toBe(200);
          const p = decodePayload(new Uint8Array(r.body));
          const which = models.findIndex((m) => maxDiff(p.values, direct(m.generator, [4, 5])) < 1e-6);
          expect(which).toBeGreaterThanOrEqual(0);
          answers.push(`${which}`);
        }
      })();
      const reloaded = server.reload();
      // Both threads run while the new one loads and warms (counted from its start).
      expect(await until(() => GeneratorThread.running === 2)).toBe(true);
      expect(await reloaded).toMatchObject({ switched: true, version: 2 });
      expect(await until(() => answers.length > 0 && answers[answers.length - 1] === '1')).toBe(true);
      stop = true;
      await traffic;
      // Never back to the old version once switched.
      expect(answers.join('')).toMatch(/^0*1+$/);
      expect(server.generatorThread).toBe(true);
      expect(await until(() => GeneratorThread.running === 1)).toBe(true);
      // A version that fails to load in its thread: not switched to, reported, no thread left over.
      fs.mkdirSync(path.join(dir, '3'));
      fs.writeFileSync(path.join(dir, '3', 'model.json'), '{"modelTopology": ');
      await expect(server.reload()).rejects.toThrow(/cannot load the model in '.*\/3'.*not valid JSON/);
      expect(server.version).toBe(2);
      expect(await until(() => GeneratorThread.running === 1)).toBe(true);
    } finally {
      stop = true;
      await traffic.catch(() => undefined);
      const began = Date.now();
      await server.close();
      expect(Date.now() - began).toBeLessThan(5000);
    }
    expect(await until(() => GeneratorThread.running === 0)).toBe(true);
  });
});
