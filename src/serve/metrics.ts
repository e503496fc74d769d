/**
 * A small Prometheus registry (counters, gauges, histograms) and its text exposition format
 * (version 0.0.4), enough for the service's `/metrics` without a dependency.
 */

type Labels = Record<string, string>;

/** The content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra !== undefined) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function numberText(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

abstract class Metric {
  constructor(readonly name: string, readonly help: string,
      readonly labelNames: readonly string[] = []) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
      throw new Error(`metric name '${name}' is not a valid Prometheus name`);
    }
  }

  // Called on every observation (several per request): no intermediate arrays or closures.
  protected key(labels: Labels): string {
    const names = this.labelNames;
    let count = 0;
    for (const k in labels) if (Object.prototype.hasOwnProperty.call(labels, k)) count++;
    let key = '[';
    let ok = count === names.length;
    for (let i = 0; ok && i < names.length; i++) {
      const v = labels[names[i]] as unknown;
      if (v === undefined) ok = false;
      else key += (i > 0 ? ',' : '') + JSON.stringify(String(v));
    }
    if (!ok) {
      throw new Error(`metric '${this.name}' takes labels ${names.join(', ') || '(none)'}, ` +
        `got ${Object.keys(labels).join(', ') || '(none)'}`);
    }
    return `${key}]`;
  }

  protected labelsOf(key: string): Labels {
    const values = JSON.parse(key) as string[];
    return Object.fromEntries(this.labelNames.map((n, i) => [n, values[i]]));
  }

  abstract readonly type: string;
  abstract lines(): string[];

  text(): string {
    return [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n');
  }
}

/**
 * A monotonically increasing count.
 *
 * @example
 * ```ts
 * const errors = new Counter('app_errors_total', 'Errors by code.', ['code']);
 * errors.inc({ code: 'bad_json' });
 * ```
 */
export class Counter extends Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, number>();

  inc(labels: Labels = {}, by = 1): void {
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(this.key(labels)) ?? 0;
  }

  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${labelText(this.labelsOf(k))} ${numberText(v)}`);
  }
}

/**
 * A value that goes up and down.
 *
 * @example
 * ```ts
 * const inflight = new Gauge('app_inflight', 'Requests in flight.');
 * inflight.inc();
 * inflight.inc({}, -1);
 * ```
 */
export class Gauge extends Metric {
  readonly type = 'gauge';
  private readonly values = new Map<string, number>();

  set(value: number, labels: Labels = {}): void {
    this.values.set(this.key(labels), value);
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${labelText(this.labelsOf(k))} ${numberText(v)}`);
  }
}

interface Buckets { counts: number[]; sum: number; count: number }

/**
 * Observations counted into cumulative buckets, with their sum and count.
 *
 * @example
 * ```ts
 * const latency = new Histogram('app_seconds', 'Latency.', [0.01, 0.1, 1]);
 * latency.observe(0.042);
 * ```
 */
export class Histogram extends Metric {
  readonly type = 'histogram';
  private readonly series = new Map<string, Buckets>();

  constructor(name: string, help: string, readonly buckets: readonly number[],
      labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => i > 0 && b <= buckets[i - 1])) {
      throw new Error(`histogram '${name}' needs strictly increasing bucket bounds`);
    }
  }

  observe(value: number, labels: Labels = {}): void {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (s === undefined) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Number of observations for the labels. */
  count(labels: Labels = {}): number {
    return this.series.get(this.key(labels))?.count ?? 0;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const labels = this.labelsOf(k);
      this.buckets.forEach((b, i) => out.push(
        `${this.name}_bucket${labelText(labels, ['le', numberText(b)])} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(labels)} ${numberText(s.sum)}`);
      out.push(`${this.name}_count${labelText(labels)} ${s.count}`);
    }
    return out;
  }
}

/**
 * A set of metrics rendered together.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const requests = registry.add(new Counter('app_requests_total', 'Requests.', ['route']));
 * requests.inc({ route: '/healthz' });
 * registry.text(); // '# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\n…'
 * ```
 */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) {
      throw new Error(`metric '${metric.name}' is registered twice`);
    }
    this.metrics.push(metric);
    return metric;
  }

  /** Every metric in the Prometheus text format, ending with a newline. */
  text(): string {
    return `${this.metrics.map((m) => m.text()).join('\n')}\n`;
  }
}
