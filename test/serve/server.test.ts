import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generatorFingerprint } from '../../src/serve/fingerprint';
import { decodePayload, PayloadFormat, payloadByteLength } from '../../src/serve/payload';
import { createServer, ServerHandle } from '../../src/serve/server';
import { installReloadHandler, installShutdownHandlers } from '../../src/serve/shutdown';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { direct, LENGTH, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-serve-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const { duet, generator, layout } = tinyDuet();
const FP = generatorFingerprint(generator);

/** Counts generator calls from the metrics text. */
async function generatorCalls(server: ServerHandle): Promise<number> {
  const m = /^duet_generator_batch_size_count (\d+)$/m.exec(await server.metrics());
  return m === null ? 0 : Number(m[1]);
}

describe('createServer: parameters', () => {
  let server: ServerHandle;
  let url: string;
  beforeAll(async () => {
    server = await createServer({ model: duet, port: 0, maxWaitMs: 30, maxBodyBytes: 4096, maxSequences: 8 });
    url = (await server.listen()).url;
  });
  afterAll(() => server.close());

  it('answers one user with a payload equal to generator.predict on its sequence', async () => {
    const r = await post(`${url}/v1/parameters`, { sequence: [3, 1, 4] });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['x-duet-fingerprint']).toBe(FP);
    const p = decodePayload(new Uint8Array(r.body));
    expect(p).toMatchObject({ fingerprint: FP, format: 'f32', batch: 1, total: layout.total });
    expect(p.layers.map((l) => l.name)).toEqual(['hidden', 'out']);
    expect(maxDiff(p.values, direct(generator, [3, 1, 4]))).toBeLessThan(1e-6);
  });

  it('chooses the format by query or header, and sizes shrink accordingly', async () => {
    const sizes: Record<string, number> = {};
    for (const format of ['f32', 'f16', 'int8']) {
      const viaQuery = await post(`${url}/v1/parameters?format=${format}`, { sequence: [7, 7, 2] });
      const viaHeader = await post(`${url}/v1/parameters`, { sequence: [7, 7, 2] }, { 'X-Duet-Format': format });
      expect(viaQuery.body.equals(viaHeader.body)).toBe(true);
      const p = decodePayload(new Uint8Array(viaQuery.body));
      expect(p.format).toBe(format);
      expect(maxDiff(p.values, direct(generator, [7, 7, 2]))).toBeLessThan(format === 'int8' ? 0.05 : 1e-3);
      sizes[format] = viaQuery.body.length;
    }
    expect(sizes).toEqual(Object.fromEntries(['f32', 'f16', 'int8'].map((f) =>
      [f, payloadByteLength(layout, { format: f as PayloadFormat })])));
    expect(sizes.f32 - sizes.f16).toBe(layout.total * 2);
    const bad = await post(`${url}/v1/parameters?format=f64`, { sequence: [1] });
    expect(bad.status).toBe(400);
    expect(json(bad).error.code).toBe('bad_format');
  });

  it('answers JSON on request, and batches of users', async () => {
    const seqs = [[1, 2], [9, 8, 7, 6, 5, 4, 3]];
    const r = await post(`${url}/v1/parameters`, { sequences: seqs }, { Accept: 'application/json' });
    expect(r.status).toBe(200);
    const body = json(r);
    expect(body.fingerprint).toBe(FP);
    expect(body.layout).toEqual([
      { name: 'hidden', inputDim: 6, outputDim: 8, useBias: true },
      { name: 'out', inputDim: 8, outputDim: 1, useBias: true },
    ]);
    expect(body.parameters).toHaveLength(2);
    seqs.forEach((s, i) => expect(maxDiff(body.parameters[i], direct(generator, s))).toBeLessThan(1e-6));
    // Longer than the generator input: the last LENGTH items count.
    expect(maxDiff(body.parameters[1], direct(generator, seqs[1].slice(-LENGTH)))).toBeLessThan(1e-6);
    const bin = decodePayload(new Uint8Array((await post(`${url}/v1/parameters`, { sequences: seqs })).body));
    expect(bin.batch).toBe(2);
  });

  it('micro-batches concurrent requests into fewer generator calls, each getting its own parameters', async () => {
    const before = await generatorCalls(server);
    const seqs = Array.from({ length: 16 }, (_, i) => [1 + i, 2 + (i * 7) % 27, 1 + (i * 13) % 29]);
    const answers = await Promise.all(seqs.map((s) => post(`${url}/v1/parameters`, { sequence: s })));
    const calls = (await generatorCalls(server)) - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThan(seqs.length);
    answers.forEach((r, i) => {
      const values = decodePayload(new Uint8Array(r.body)).values;
      expect(maxDiff(values, direct(generator, seqs[i]))).toBeLessThan(1e-6);
      // …and not a neighbour's.
      expect(maxDiff(values, direct(generator, seqs[(i + 1) % seqs.length]))).toBeGreaterThan(1e-4);
    });
  });

  it('GET /healthz, /v1/model and /metrics', async () => {
    const h = await request(`${url}/healthz`);
    expect(h.status).toBe(200);
    expect(json(h)).toEqual({ status: 'ok', fingerprint: FP });
    const m = json(await request(`${url}/v1/model`));
    expect(m).toMatchObject({ fingerprint: FP, total: layout.total, sequenceLength: LENGTH, vocabSize: 30, embeddingDim: 8, payloadVersion: 1 });
    expect(m.requests).toEqual(['sequence', 'sequences', 'embeddings', 'embeddingSequences']);
    await request(`${url}/nowhere`);
    const metrics = await request(`${url}/metrics`);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = metrics.body.toString();
    expect(text).toMatch(/^duet_http_requests_total\{route="\/v1\/parameters",method="POST",status="200"\} \d+$/m);
    expect(text).toMatch(/^duet_http_requests_total\{route="unmatched",method="GET",status="404"\} 1$/m);
    expect(text).toMatch(/^duet_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/parameters"\} \d+$/m);
    expect(text).toMatch(/^duet_generator_batch_size_bucket\{le="1"\} \d+$/m);
    expect(text).toMatch(/^duet_http_errors_total\{code="not_found"\} 1$/m);
    expect(text).toContain(`duet_model_info{fingerprint="${FP}"} 1`);
  });

  it('answers every bad request with a clear JSON error and a 4xx status', async () => {
    const cases: Array<[Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }>, number, string, string]> = [
      [request(`${url}/v1/parameters`, { method: 'POST', body: '{"sequence": [1, 2' }), 400, 'bad_json', 'not valid JSON'],
      [request(`${url}/v1/parameters`, { method: 'POST' }), 400, 'bad_json', 'the body is empty'],
      [request(`${url}/v1/parameters`, { method: 'POST', body: Buffer.from([0xff, 0xfe]) }), 400, 'bad_json', 'not valid UTF-8'],
      [post(`${url}/v1/parameters`, { sequence: [1, 30] }), 400, 'invalid_ids', "'sequence'[1] is 30; item ids must be integers in 1..29"],
      [post(`${url}/v1/parameters`, { sequence: [-2] }), 400, 'invalid_ids', 'is -2'],
      [post(`${url}/v1/parameters`, { sequence: [2.5] }), 400, 'invalid_ids', 'is 2.5'],
      [post(`${url}/v1/parameters`, { sequence: [] }), 400, 'empty_sequence', "'sequence' is empty"],
      [post(`${url}/v1/parameters`, { sequence: 'abc' }), 400, 'bad_request', 'got a string'],
      [post(`${url}/v1/parameters`, { sequences: Array(9).fill([1]) }), 400, 'too_many_sequences', 'at most 8'],
      [post(`${url}/v1/parameters`, { embeddings: [[1, 2]] }), 400, 'invalid_embeddings', 'must be an array of 8 numbers'],
      [request(`${url}/v1/parameters`, { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body: '<a/>' }), 415, 'unsupported_media_type', "got 'application/xml'"],
      [post(`${url}/v1/parameters`, { sequence: Array(3000).fill(1) }), 413, 'payload_too_large', 'at most 4096 bytes'],
      [request(`${url}/v1/parameters`, { method: 'POST', body: `{"sequence":[${Array(3000).fill(1).join(',')}]}`, chunked: true }), 413, 'payload_too_large', 'at most 4096 bytes'],
      [request(`${url}/v2/parameters`), 404, 'not_found', 'no route /v2/parameters'],
      [request(`${url}/v1/parameters`), 405, 'method_not_allowed', '/v1/parameters accepts POST, not GET'],
      [request(`${url}/healthz`, { method: 'DELETE' }), 405, 'method_not_allowed', 'not DELETE'],
      [request(`${url}/healthz`, { method: 'OPTIONS', headers: { Origin: 'http://x.test' } }), 403, 'forbidden_origin', 'not allowed'],
    ];
    for (const [pending, status, code, message] of cases) {
      const r = await pending;
      expect(r.status, `${code}: ${r.body}`).toBe(status);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = json(r);
      expect(body.error.code).toBe(code);
      expect(body.error.message).toContain(message);
    }
    const r405 = await request(`${url}/v1/parameters`, { method: 'PUT' });
    expect(r405.headers.allow).toBe('POST, OPTIONS');
    // Still healthy and correct afterwards.
    const ok = await post(`${url}/v1/parameters`, { sequence: [5] });
    expect(maxDiff(decodePayload(new Uint8Array(ok.body)).values, direct(generator, [5]))).toBeLessThan(1e-6);
  });

  it('reads request targets as URL parsing does: odd paths, escapes, fragments', async () => {
    const raw = (target: string, method = 'POST') => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const u = new URL(url);
      const body = JSON.stringify({ sequence: [3, 1, 4] });
      const req = http.request({ host: u.hostname, port: u.port, path: target, method,
        headers: method === 'POST' ? { 'Content-Length': String(Buffer.byteLength(body)), Accept: 'application/octet-stream' } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(method === 'POST' ? body : undefined);
    });
    const formats: Array<[string, string]> = [
      ['/v1/parameters', 'f32'],
      ['/v1/parameters?format=int8', 'int8'],
      ['/v1/parameters?format=%66%31%36', 'f16'], // percent escapes decode
      ['/v1/parameters?format=f16#frag', 'f16'], // the fragment is not part of the query
      ['/v1/./parameters?format=int8', 'int8'], // dot segments resolve
      ['/v1/x/../parameters', 'f32'],
      ['/v1/parameters?a=1&format=f16&format=int8', 'f16'], // the first value counts
    ];
    for (const [target, format] of formats) {
      const r = await raw(target);
      expect(r.status, target).toBe(200);
      expect(r.headers['x-duet-format'], target).toBe(format);
      expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(generator, [3, 1, 4])), target)
        .toBeLessThan(format === 'int8' ? 0.05 : 1e-3);
    }
    const notFound: Array<[string, string]> = [['//v1/parameters', 'no route /parameters;'], // '//v1' is an authority
      ['/v1/parameters/', 'no route /v1/parameters/;'], ['/v1//parameters', 'no route /v1//parameters;']];
    for (const [target, message] of notFound) {
      const r = await raw(target);
      expect(r.status, target).toBe(404);
      expect(json(r).error.message).toContain(message);
    }
    expect((await raw('/healthz?verbose=1', 'GET')).status).toBe(200);
    expect(json(await raw('/v1/parameters?format=f%2016')).error.message).toContain('unknown payload format "f 16"');
  });

  it('answers 422 when a request drives the generator to non-finite parameters', async () => {
    // Huge but finite embeddings: their sum overflows float32 inside the mean encoder.
    const embeddings = [Array(8).fill(3e38), Array(8).fill(3e38)];
    for (const accept of ['application/octet-stream', 'application/json']) {
      const r = await post(`${url}/v1/parameters?format=f16`, { embeddings }, { Accept: accept });
      expect(r.status, accept).toBe(422);
      expect(json(r).error.code).toBe('invalid_embeddings');
    }
    // The service is fine afterwards.
    const ok = await post(`${url}/v1/parameters?format=f16`, { embeddings: [Array(8).fill(0.1)] });
    expect(ok.status).toBe(200);
  });
});

describe('createServer: auth, CORS, loading, mounting, shutdown', () => {
  it('requires the bearer token everywhere but /healthz', async () => {
    const server = await createServer({ model: generator, token: 's3cret' });
    const { url } = await server.listen(0);
    try {
      const none = await post(`${url}/v1/parameters`, { sequence: [1] });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(json(none).error.code).toBe('unauthorized');
      expect((await post(`${url}/v1/parameters`, { sequence: [1] }, { Authorization: 'Bearer s3cre' })).status).toBe(401);
      expect((await post(`${url}/v1/parameters`, { sequence: [1] }, { Authorization: 'Bearer s3cret' })).status).toBe(200);
      expect((await request(`${url}/metrics`)).status).toBe(401);
      expect((await request(`${url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('CORS: allowed origins get headers and preflights, others do not', async () => {
    const server = await createServer({ model: generator, cors: { origins: ['http://app.test'], maxAgeSeconds: 60 } });
    const { url } = await server.listen(0);
    try {
      const pre = await request(`${url}/v1/parameters`, { method: 'OPTIONS', headers: {
        Origin: 'http://app.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('http://app.test');
      expect(pre.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
      expect(pre.headers['access-control-allow-headers']).toContain('Content-Type');
      expect(pre.headers['access-control-max-age']).toBe('60');
      const r = await post(`${url}/v1/parameters`, { sequence: [1] }, { Origin: 'http://app.test' });
      expect(r.headers['access-control-allow-origin']).toBe('http://app.test');
      expect(r.headers['access-control-expose-headers']).toContain('X-Duet-Fingerprint');
      const other = await post(`${url}/v1/parameters`, { sequence: [1] }, { Origin: 'http://evil.test' });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const otherPre = await request(`${url}/v1/parameters`, { method: 'OPTIONS', headers: { Origin: 'http://evil.test' } });
      expect(otherPre.status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it('serves a saved DUET model directory and a saved generator directory', async () => {
    await saveDuet(duet, path.join(root, 'duet'));
    await saveDuet(generator, path.join(root, 'generator'));
    for (const dir of ['duet', 'generator']) {
      const server = await createServer({ model: path.join(root, dir) });
      expect(server.info.fingerprint).toBe(FP);
      const { url } = await server.listen(0);
      const r = await post(`${url}/v1/parameters`, { sequence: [2, 4, 6] });
      expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(generator, [2, 4, 6]))).toBeLessThan(1e-6);
      await server.close();
    }
    await expect(createServer({ model: path.join(root, 'missing') })).rejects.toThrow('cannot read');
  });

  it('mounts in an existing Node server through its handler', async () => {
    const service = await createServer({ model: generator });
    const host = http.createServer(service.handler);
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    const port = (host.address() as { port: number }).port;
    try {
      expect(json(await request(`http://127.0.0.1:${port}/healthz`)).status).toBe('ok');
    } finally {
      await new Promise((r) => host.close(r));
      await service.close();
    }
  });

  it('close() finishes in-flight requests, then refuses connections', async () => {
    // A long batching wait keeps the request in flight when close() is called.
    const server = await createServer({ model: generator, maxWaitMs: 60_000 });
    const { url } = await server.listen(0);
    const pending = post(`${url}/v1/parameters`, { sequence: [8, 9] });
    while (!/^duet_http_inflight_requests 1$/m.test(await server.metrics())) await new Promise((r) => setTimeout(r, 2));
    const closed = server.close();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(generator, [8, 9]))).toBeLessThan(1e-6);
    await closed;
    expect(server.address).toBeNull();
    await expect(request(`${url}/healthz`)).rejects.toThrow(/ECONNREFUSED|socket hang up|ECONNRESET/);
    await server.close(); // idempotent
  });

  it('rejects bad options', async () => {
    await expect(createServer({} as never)).rejects.toThrow("'createServer' needs options with 'model'");
    await expect(createServer({ model: generator, maxBodyBytes: 0 })).rejects.toThrow("'maxBodyBytes' passed to 'createServer' must be an integer >= 1, got 0");
    await expect(createServer({ model: generator, defaultFormat: 'f64' as never })).rejects.toThrow("'defaultFormat' passed to 'createServer' must be one of");
  });
});

describe('installShutdownHandlers', () => {
  it('closes the target on the signal and can be removed', async () => {
    let closes = 0;
    const messages: string[] = [];
    const remove = installShutdownHandlers({ close: async () => { closes++; } }, { signals: ['SIGUSR2'], exit: false, log: (m) => messages.push(m) });
    process.emit('SIGUSR2' as never);
    await new Promise((r) => setTimeout(r, 5));
    expect(closes).toBe(1);
    expect(messages).toEqual(['duet-tf serve: SIGUSR2 received, finishing in-flight requests', 'duet-tf serve: closed']);
    remove();
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('installReloadHandler: the signal reloads; a failed reload is reported and the process lives on', async () => {
    const messages: string[] = [];
    let reloads = 0;
    const remove = installReloadHandler({ reload: async () => {
      reloads++;
      if (reloads === 2) throw new Error('version 3 has non-finite weights');
    } }, { signal: 'SIGUSR2', log: (m) => messages.push(m) });
    process.emit('SIGUSR2' as never);
    await new Promise((r) => setTimeout(r, 5));
    process.emit('SIGUSR2' as never);
    await new Promise((r) => setTimeout(r, 5));
    expect(reloads).toBe(2);
    expect(messages).toEqual(['duet-tf serve: SIGUSR2 received, reloading the model', 'duet-tf serve: reload done',
      'duet-tf serve: SIGUSR2 received, reloading the model',
      'duet-tf serve: reload failed, still serving the previous model: version 3 has non-finite weights']);
    remove();
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });
});
