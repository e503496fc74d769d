/**
 * The service's metrics through prom-client: the service's series in a registry of each
 * server's own, Node's process metrics beside them, and metrics of one's own added to it.
 * (The --workers aggregate is checked in serve_cluster.test.ts.)
 */
import { describe, expect, it } from 'vitest';

import { createServiceMetrics } from '../../src/serve/metrics';
import { createServer } from '../../src/serve/server';
import { request } from './http_client';
import { tinyDuet } from './tiny_duet';

describe('createServiceMetrics', () => {
  it('renders the service metrics and the process metrics in the Prometheus text format', async () => {
    const m = await createServiceMetrics({ fingerprint: '0123456789abcdef' });
    m.requests.inc({ route: '/a', method: 'GET', status: '200' });
    m.requests.inc({ route: '/a', method: 'GET', status: '200' }, 2);
    m.errors.inc({ code: 'we"ird\\' });
    m.latency.observe({ route: '/a' }, 0.0015);
    m.batchSizes.observe(3);
    const text = await m.text();
    expect(m.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toContain('# TYPE duet_http_requests_total counter');
    expect(text).toMatch(/^duet_http_requests_total\{route="\/a",method="GET",status="200"\} 3$/m);
    expect(text).toMatch(/^duet_http_errors_total\{code="we\\"ird\\\\"\} 1$/m);
    expect(text).toMatch(/^duet_http_request_duration_seconds_bucket\{le="0\.001",route="\/a"\} 0$/m);
    expect(text).toMatch(/^duet_http_request_duration_seconds_bucket\{le="0\.002",route="\/a"\} 1$/m);
    expect(text).toMatch(/^duet_generator_batch_size_bucket\{le="4"\} 1$/m);
    expect(text).toMatch(/^duet_generator_batch_size_count 1$/m);
    expect(text).toMatch(/^duet_http_inflight_requests 0$/m);
    expect(text).toMatch(/^duet_model_info\{fingerprint="0123456789abcdef"\} 1$/m);
    // Node's process metrics, from prom-client's default collectors.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text, name).toMatch(new RegExp(`^${name} [0-9.e+-]+$`, 'm'));
    }
    // Labels are checked: a wrong one is an error, not a silent new series.
    expect(() => m.requests.inc({ route: '/a', verb: 'GET' } as never)).toThrow(/verb/);
  });

  it('gives each server its own registry; a metric of one\'s own joins /metrics', async () => {
    const { generator } = tinyDuet();
    const [a, b] = await Promise.all([createServer({ model: generator }), createServer({ model: generator })]);
    try {
      const { url } = await a.listen(0);
      await request(`${url}/healthz`);
      const custom = new a.metricsRegistry.prom.Counter({
        name: 'app_reloads_total', help: 'Reloads.', registers: [a.metricsRegistry.registry],
      });
      custom.inc();
      const text = (await request(`${url}/metrics`)).body.toString();
      expect(text).toMatch(/^duet_http_requests_total\{route="\/healthz",method="GET",status="200"\} 1$/m);
      expect(text).toMatch(/^app_reloads_total 1$/m);
      expect(await b.metrics()).not.toMatch(/route="\/healthz"/);
      expect(await b.metrics()).not.toMatch(/app_reloads_total/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
