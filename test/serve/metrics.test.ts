import { describe, expect, it } from 'vitest';

import { Counter, Gauge, Histogram, MetricsRegistry } from '../../src/serve/metrics';

describe('MetricsRegistry', () => {
  it('renders counters, gauges and cumulative histograms in the Prometheus text format', () => {
    const r = new MetricsRegistry();
    const c = r.add(new Counter('x_requests_total', 'Requests.', ['route', 'status']));
    const g = r.add(new Gauge('x_inflight', 'In flight.'));
    const h = r.add(new Histogram('x_seconds', 'Latency.', [0.1, 1]));
    c.inc({ route: '/a', status: '200' });
    c.inc({ route: '/a', status: '200' }, 2);
    c.inc({ route: 'we"ird\\', status: '404' });
    g.set(3);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    expect(r.text()).toBe([
      '# HELP x_requests_total Requests.',
      '# TYPE x_requests_total counter',
      'x_requests_total{route="/a",status="200"} 3',
      'x_requests_total{route="we\\"ird\\\\",status="404"} 1',
      '# HELP x_inflight In flight.',
      '# TYPE x_inflight gauge',
      'x_inflight 3',
      '# HELP x_seconds Latency.',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{le="0.1"} 1',
      'x_seconds_bucket{le="1"} 2',
      'x_seconds_bucket{le="+Inf"} 3',
      'x_seconds_sum 5.55',
      'x_seconds_count 3',
      '',
    ].join('\n'));
    expect(h.count()).toBe(3);
    expect(c.get({ route: '/a', status: '200' })).toBe(3);
  });

  it('rejects wrong labels, bad names, unsorted buckets and duplicates', () => {
    const c = new Counter('ok_total', 'x', ['a']);
    expect(() => c.inc({ b: '1' })).toThrow("metric 'ok_total' takes labels a, got b");
    expect(() => c.inc({ a: '1', b: '2' })).toThrow("metric 'ok_total' takes labels a, got a, b");
    expect(() => c.inc({})).toThrow("metric 'ok_total' takes labels a, got (none)");
    expect(() => new Gauge('g0', 'x').inc({ a: '1' })).toThrow("metric 'g0' takes labels (none), got a");
    // A non-string value names the same series as its text.
    c.inc({ a: 200 as unknown as string });
    c.inc({ a: '200' });
    expect(c.get({ a: '200' })).toBe(2);
    expect(c.lines()).toEqual(['ok_total{a="200"} 2']);
    expect(() => new Counter('bad-name', 'x')).toThrow('not a valid Prometheus name');
    expect(() => new Histogram('h', 'x', [1, 1])).toThrow('strictly increasing');
    const r = new MetricsRegistry();
    r.add(new Gauge('g', 'x'));
    expect(() => r.add(new Gauge('g', 'x'))).toThrow("metric 'g' is registered twice");
  });
});
