/**
 * The service under more load than it can take, in one process and bounded: a small queue
 * (held full by a long batching delay) shows refusals, readiness and liveness without timing
 * assertions; a long queue of one-row calls shows that health checks are answered between
 * generator calls.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { decodePayload } from '../../src/serve/payload';
import { createServer, ServerHandle } from '../../src/serve/server';
import { json, request } from './http_client';
import { RawConnection } from './raw_http';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

const { generator } = tinyDuet({ seed: 11 });
const servers: ServerHandle[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(options: Omit<Parameters<typeof createServer>[0], 'model'>, model: tfl.LayersModel = generator) {
  const server = await createServer({ model, ...options });
  servers.push(server);
  const { port, url } = await server.listen(0);
  return { server, port, url };
}

const body = (n: number) => JSON.stringify({ sequences: Array.from({ length: n }, (_, i) => [1 + (i % 20), 2]) });

/**
 * Sends 8 sequences on a connection of their own and waits until `/readyz` (on another
 * connection) counts them queued: with a long batching delay the queue of 8 is then full.
 */
async function fillQueue(port: number): Promise<{ holder: RawConnection; ready: RawConnection }> {
  const holder = await RawConnection.open(port);
  holder.send('POST', '/v1/parameters?format=f32', body(8));
  const ready = await RawConnection.open(port);
  for (;;) {
    ready.send('GET', '/readyz');
    if (JSON.parse((await ready.answer()).body.toString()).queuedSequences === 8) break;
  }
  return { holder, ready };
}
const generatorCalls = async (server: ServerHandle) =>
  Number(/^duet_generator_batch_size_count (\d+)$/m.exec(await server.metrics())?.[1] ?? 0);

describe('admission control', () => {
  it('a full queue: 503 overloaded with Retry-After and a JSON error, before the body is read; /healthz ok, /readyz not ready', async () => {
    // A batching delay of a minute keeps the admitted rows queued: the queue stays full.
    const { server, port } = await start({ maxWaitMs: 60_000, maxQueue: 8, maxBatch: 64 });
    const holder = await RawConnection.open(port);
    holder.send('POST', '/v1/parameters?format=f32', body(8));
    while (!/^duet_http_inflight_requests 1$/m.test(await server.metrics())) await new Promise((r) => setTimeout(r, 5));
    // Wait until the 8 rows are queued (the body has been read and parsed).
    const ready = await RawConnection.open(port);
    for (;;) {
      ready.send('GET', '/readyz');
      const r = await ready.answer();
      if (JSON.parse(r.body.toString()).queuedSequences === 8) break;
    }

    const one = await RawConnection.open(port);
    const sentAt = Date.now();
    one.send('POST', '/v1/parameters?format=f32', body(1));
    const refused = await one.answer();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(refused.body.toString()).error).toMatchObject({ code: 'overloaded' });
    expect(JSON.parse(refused.body.toString()).error.message).toContain('more than 8 sequences would be waiting for the generator (limit 8)');
    // An immediate retry on the same connection is held to the Retry-After it was given.
    one.send('POST', '/v1/parameters?format=f32', body(1));
    const retried = await one.answer();
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1000 * Number(refused.headers['retry-after']));
    expect(retried.status).toBe(503);

    // Headers only, the body never sent: the refusal does not wait for it.
    const partial = await RawConnection.open(port);
    partial.write('POST /v1/parameters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"sequ');
    const early = await partial.answer();
    expect(early.status).toBe(503);
    expect(JSON.parse(early.body.toString()).error.code).toBe('overloaded');

    const live = await RawConnection.open(port);
    live.send('GET', '/healthz');
    expect((await live.answer()).status).toBe(200);
    live.send('GET', '/readyz');
    const notReady = await live.answer();
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body.toString())).toMatchObject({ status: 'overloaded', queuedSequences: 8 });

    // The admitted request is answered correctly once the queue runs (close drains it).
    const answered = holder.answer();
    await server.close();
    const ok = await answered;
    expect(ok.status).toBe(200);
    const p = decodePayload(new Uint8Array(ok.body));
    expect(p.batch).toBe(8);
    expect(maxDiff(p.values.subarray(0, p.total), direct(generator, [1, 2]))).toBeLessThan(1e-6);
    expect(await server.metrics()).toMatch(/^duet_http_errors_total\{code="overloaded"\} 3$/m);
    [holder, ready, one, partial, live].forEach((c) => c.close());
  });

  it('a retry sooner than its Retry-After is refused once that has passed, never admitted with the hold in its latency; the next request is admitted', async () => {
    // The queue is full for 300 ms (the batching delay), well inside the 1 s Retry-After.
    const { server, port } = await start({ maxWaitMs: 300, maxQueue: 8, maxBatch: 64 });
    const { holder, ready } = await fillQueue(port);
    const client = await RawConnection.open(port);
    client.send('POST', '/v1/parameters?format=f32', body(1));
    const refused = await client.answer();
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Retried at once, ignoring Retry-After. The queue empties meanwhile (the holder's call runs
    // after 300 ms), so a request looked at after the hold would be admitted: it is refused.
    client.send('POST', '/v1/parameters?format=f32', body(1));
    const early = await client.answer();
    expect(early.status).toBe(503);
    // It retried early: it is told to wait longer (1 s doubled).
    expect(early.headers['retry-after']).toBe('2');
    const error = JSON.parse(early.body.toString()).error;
    expect(error.code).toBe('overloaded');
    expect(error.message).toContain('sooner than the Retry-After');
    expect((await holder.answer()).status).toBe(200); // the queue is empty now
    // The request after the early one is not held: it goes through admission and is answered.
    client.send('POST', '/v1/parameters?format=f32', body(1));
    const answered = await client.answer();
    expect(answered.status).toBe(200);
    expect(decodePayload(new Uint8Array(answered.body)).batch).toBe(1);
    const text = await server.metrics();
    expect(text).toMatch(/^duet_early_retries_total 1$/m);
    expect(text).toMatch(/^duet_http_errors_total\{code="overloaded"\} 2$/m);
    [holder, ready, client].forEach((c) => c.close());
  });

  it('a connection that keeps retrying early gets a longer Retry-After; a fresh connection gets the service\'s own; refusals are shared bytes', async () => {
    const { server, port } = await start({ maxWaitMs: 60_000, maxQueue: 8, maxBatch: 64 });
    const { holder, ready } = await fillQueue(port);
    const storm = await RawConnection.open(port);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      storm.send('POST', '/v1/parameters?format=f32', body(1)); // at once, ignoring Retry-After
      answers.push(await storm.answer());
    }
    expect(answers.map((a) => a.status)).toEqual([503, 503, 503]);
    // Refused (1 s), the early retry held and refused (2 s), the next refused by admission (2 s).
    expect(answers.map((a) => a.headers['retry-after'])).toEqual(['1', '2', '2']);
    expect(answers.map((a) => Number(a.headers['content-length']))).toEqual(answers.map((a) => a.body.length));
    expect(JSON.parse(answers[2].body.toString()).error.code).toBe('overloaded');
    const other = await RawConnection.open(port);
    other.send('POST', '/v1/parameters?format=f32', body(1));
    const fresh = await other.answer();
    expect(fresh.headers['retry-after']).toBe('1');
    expect(fresh.body.equals(answers[0].body)).toBe(true);
    const text = await server.metrics();
    expect(text).toMatch(/^duet_http_errors_total\{code="overloaded"\} 4$/m);
    expect(text).toMatch(/^duet_http_requests_total\{route="\/v1\/parameters",method="POST",status="503"\} 4$/m);
    [holder, ready, storm, other].forEach((c) => c.close());
  });

  it('a health port answers /healthz and /readyz from a thread of its own, following the service; it closes with it', async () => {
    const { server, port } = await start({ healthPort: 0, maxWaitMs: 60_000, maxQueue: 8 });
    expect(server.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const probe = async (path: string) => {
      const r = await request(`${server.healthUrl}${path}`, { fresh: true });
      return { status: r.status, body: json(r) };
    };
    expect(await probe('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await probe('/readyz')).toMatchObject({ status: 200, body: { status: 'ready', version: null } });
    expect(await probe('/v1/parameters')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    // A full queue and refusals (each on a new connection): the health port turns not ready too.
    const holder = await RawConnection.open(port);
    holder.send('POST', '/v1/parameters?format=f32', body(8));
    let ready = await probe('/readyz');
    for (let i = 0; i < 300 && ready.status === 200; i++) {
      const c = await RawConnection.open(port);
      c.send('POST', '/v1/parameters?format=f32', body(1));
      await c.answer();
      c.close();
      ready = await probe('/readyz');
    }
    expect(ready).toMatchObject({ status: 503, body: { status: 'overloaded' } });
    expect((await probe('/healthz')).status).toBe(200); // busy is not dead
    const url = server.healthUrl!;
    await server.close();
    await expect(request(`${url}/healthz`, { fresh: true })).rejects.toThrow(/ECONNREFUSED/);
    holder.close();
  });

  it('/healthz and refusals are answered between generator calls, however long the queue', async () => {
    // 300 one-row calls queued by one request (maxBatch 1); no limit refuses them.
    const { server, port } = await start({ maxBatch: 1, maxQueue: 1000, maxQueueMs: 1e9, maxSequences: 300 });
    const before = await generatorCalls(server);
    const big = await RawConnection.open(port);
    big.send('POST', '/v1/parameters?format=f32', body(300));
    while (await generatorCalls(server) === before) await new Promise((r) => setImmediate(r));
    const probe = await RawConnection.open(port);
    probe.send('GET', '/healthz');
    const health = await probe.answer();
    const callsAtAnswer = await generatorCalls(server) - before;
    expect(health.status).toBe(200);
    // Answered while the queue was still running: not after all 300 calls.
    expect(callsAtAnswer).toBeLessThan(150);
    const done = await big.answer();
    expect(done.status).toBe(200);
    expect(decodePayload(new Uint8Array(done.body)).batch).toBe(300);
    [big, probe].forEach((c) => c.close());
  });

  it('a connection limit: past it a new connection gets a 503 and is closed; freed, it serves again', async () => {
    const { port } = await start({ maxConnections: 2 });
    const a = await RawConnection.open(port);
    const b = await RawConnection.open(port);
    a.send('GET', '/healthz');
    expect((await a.answer()).status).toBe(200);
    const c = await RawConnection.open(port);
    c.send('GET', '/healthz');
    const refused = await c.answer();
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body.toString()).error.code).toBe('overloaded');
    b.close();
    // The server frees the slot when it sees b's close, an event of its own: not after a fixed
    // sleep (50 ms were not always enough on a loaded machine). Until then a new connection is
    // refused as above; once freed, one is served.
    let d: RawConnection;
    for (const deadline = Date.now() + 10_000; ;) {
      d = await RawConnection.open(port);
      d.send('GET', '/healthz');
      const r = await d.answer();
      if (r.status === 200) break;
      expect(JSON.parse(r.body.toString()).error.code).toBe('overloaded');
      d.close();
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    d.send('POST', '/v1/parameters?format=f32', body(1));
    expect((await d.answer()).status).toBe(200);
    [a, c, d].forEach((x) => x.close());
  });
});

describe('drain', () => {
  it('requests arriving on kept-alive connections during shutdown get 503 shutting_down and Connection: close; in-flight ones finish', async () => {
    const { server, port } = await start({ maxWaitMs: 60_000 });
    const idle = await RawConnection.open(port);
    idle.send('GET', '/healthz'); // a kept-alive connection, idle when the drain starts
    expect((await idle.answer()).headers.connection).not.toBe('close');
    const busy = await RawConnection.open(port);
    busy.send('POST', '/v1/parameters?format=f32', body(2));
    while (!/^duet_http_inflight_requests 1$/m.test(await server.metrics())) await new Promise((r) => setTimeout(r, 5));
    const pending = busy.answer();
    const closed = server.close();
    idle.send('POST', '/v1/parameters?format=f32', body(1));
    const refused = await idle.answer();
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(JSON.parse(refused.body.toString()).error.code).toBe('shutting_down');
    const finished = await pending;
    expect(finished.status).toBe(200);
    expect(decodePayload(new Uint8Array(finished.body)).batch).toBe(2);
    await closed;
    expect(idle.error).toBeNull(); // closed after its answer, never reset
    [idle, busy].forEach((c) => c.close());
  });
});

describe('load-time sanity', () => {
  it('refuses a model with NaN or infinite weights, naming the layer', async () => {
    const { generator: bad } = tinyDuet({ seed: 12 });
    const layer = bad.layers.find((l) => l.weights.length > 0 && l.name !== 'features')!;
    const weights = layer.getWeights();
    const values = weights[0].dataSync().slice();
    values[3] = NaN;
    layer.setWeights([tf.tensor(values, weights[0].shape), ...weights.slice(1)]);
    await expect(createServer({ model: bad })).rejects.toThrow(
      new RegExp(`layer '${layer.name}' of model '${bad.name}' has non-finite weights: .* holds 1 of \\d+ values NaN or infinite`));
  });

  it('refuses a generator that gives non-finite parameters in its warm-up call', async () => {
    const { generator: bad } = tinyDuet({ seed: 13 });
    // Finite decoder weights whose products overflow float32 (the condition is normalised, so
    // rows of alternating sign keep its sum from cancelling).
    const [kernel, bias] = bad.getLayer('duetGenerator').weights.slice(-2);
    const [rows, cols] = kernel.shape as number[];
    kernel.write(tf.tensor2d(Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / cols) % 2 === 0 ? 3e38 : -3e38)), [rows, cols]));
    bias.write(tf.fill(bias.shape as number[], 3e38));
    await expect(createServer({ model: bad })).rejects.toThrow(/gives non-finite parameters .* for a one-item warm-up sequence/);
  });
});
