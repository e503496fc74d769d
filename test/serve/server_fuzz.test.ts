import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodePayload } from '../../src/serve/payload';
import { createServer, ServerHandle } from '../../src/serve/server';
import { json, post, RawResponse, request } from './http_client';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const { generator } = tinyDuet();

describe('createServer under fuzzed input', () => {
  let server: ServerHandle;
  let url: string;
  beforeAll(async () => {
    server = await createServer({ model: generator, maxBodyBytes: 8192, maxSequences: 16, maxWaitMs: 1 });
    url = (await server.listen(0, '127.0.0.1')).url;
  });
  afterAll(() => server.close());

  it('answers 1,200 random and malformed requests with 2xx or a JSON 4xx, then still serves correctly', async () => {
    const r = rng(2024);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const int = (n: number) => Math.floor(r() * n);
    const scalar = (): unknown => pick([
      () => int(40) - 5, () => r() * 100 - 50, () => 1e308 * 10, () => -0, () => null, () => true,
      () => 'x'.repeat(int(20)), () => String(int(30)), () => ({}), () => [], () => 2 ** 53 + 1,
    ])();
    const value = (depth: number): unknown => {
      if (depth > 3 || r() < 0.4) return scalar();
      if (r() < 0.6) return Array.from({ length: int(8) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(['sequence', 'sequences', 'embeddings', 'embeddingSequences', 'x', '__proto__', 'constructor']), value(depth + 1)]));
    };
    const body = (): string | Uint8Array => pick([
      () => JSON.stringify(value(0)),
      () => JSON.stringify({ [pick(['sequence', 'sequences', 'embeddings', 'embeddingSequences'])]: value(1) }),
      () => JSON.stringify({ sequence: Array.from({ length: int(12) }, () => int(40) - 5) }), // often valid
      () => JSON.stringify({ sequences: Array.from({ length: int(20) }, () => Array.from({ length: int(8) }, () => int(32))) }),
      () => JSON.stringify({ embeddings: Array.from({ length: int(7) }, () => Array.from({ length: pick([7, 8, 8, 9]) }, () => r() * 2 - 1)) }),
      () => JSON.stringify({ embeddings: [Array(8).fill(1e30)] }), // finite, absurd scale
      () => JSON.stringify(value(0)).slice(0, int(30)), // truncated JSON
      () => Uint8Array.from({ length: int(300) }, () => int(256)), // random bytes
      () => '['.repeat(3000) + ']'.repeat(3000), // deep nesting
      () => `{"sequence":[${'1,'.repeat(5000)}1]}`, // over the body limit
      () => '',
      () => '{"sequence": [1, 2, 3]}'.replace(/./g, (c) => (r() < 0.1 ? String.fromCharCode(int(128)) : c)),
    ])();
    const route = () => pick(['/v1/parameters', '/v1/parameters', '/v1/parameters', '/v1/parameters?format=' + pick(['f16', 'int8', 'f32', 'bad', '']),
      '/healthz', '/metrics', '/v1/model', '/', '/v1/../etc/passwd', '/v1/parameters/%ZZ', `/${'a'.repeat(int(200))}`]);
    const method = () => pick(['POST', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    const headers = (): Record<string, string> => {
      const h: Record<string, string> = {};
      if (r() < 0.7) h['Content-Type'] = pick(['application/json', 'text/plain', 'application/json; charset=utf-8', 'image/png', 'application/x-www-form-urlencoded']);
      if (r() < 0.3) h.Accept = pick(['application/json', 'application/octet-stream', '*/*', 'text/html']);
      if (r() < 0.2) h['X-Duet-Format'] = pick(['f16', 'int8', 'nope']);
      if (r() < 0.1) h.Origin = 'http://fuzz.test';
      return h;
    };

    const N = 1200;
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const m = method();
        const res: RawResponse = await request(`${url}${route()}`, {
          method: m, headers: headers(), body: m === 'GET' || m === 'HEAD' ? undefined : body(), chunked: i % 7 === 0,
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `request ${i}: ${res.body.toString().slice(0, 200)}`).toBeLessThan(500);
        if (res.status >= 400 && m !== 'HEAD') {
          const e = json(res).error;
          expect(typeof e.code).toBe('string');
          expect(typeof e.message).toBe('string');
        }
        if (res.status === 200 && res.headers['content-type'] === 'application/octet-stream') {
          expect(decodePayload(new Uint8Array(res.body)).fingerprint).toBe(server.info.fingerprint);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(N);
    // The fuzz reached the interesting answers, not only one kind of error.
    for (const s of [200, 400, 404, 405, 413]) expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);

    const health = await request(`${url}/healthz`);
    expect(json(health).status).toBe('ok');
    const ok = await post(`${url}/v1/parameters`, { sequence: [4, 2, 9] });
    expect(ok.status).toBe(200);
    expect(maxDiff(decodePayload(new Uint8Array(ok.body)).values, direct(generator, [4, 2, 9]))).toBeLessThan(1e-6);
    expect(await server.metrics()).not.toMatch(/status="5\d\d"/);
  });
});
