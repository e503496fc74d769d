/**
 * The generation service's metrics, through `prom-client` (the Prometheus client every Node
 * service uses): a registry per server with the service's counters and histograms, Node's
 * process metrics (CPU, memory, event-loop lag, GC, handles), and, under `--workers`, the
 * aggregate over every worker, so `/metrics` on any worker answers for the whole service.
 *
 * `prom-client` is Node only: it is loaded when a server is created (through `nodeRequire`),
 * never when the main entry is imported, so browsers bundling duet-tf never see it.
 */
import type * as PromClient from 'prom-client';

import { nodeRequire } from '../backend/node_env';

/** The `prom-client` module, as the service loads it (Node only, at first use). */
export type PromClientModule = typeof PromClient;

/**
 * The metrics of one server, registered in {@link ServiceMetrics.registry}. Names, labels and
 * buckets are those `/metrics` has always shown.
 */
export interface ServiceMetrics {
  /** The `prom-client` module itself, to make more metrics (`new prom.Counter({ registers: [registry], … })`). */
  readonly prom: PromClientModule;
  /** This server's registry: the service metrics and the process metrics. */
  readonly registry: PromClient.Registry;
  /** `duet_http_requests_total{route, method, status}`. */
  readonly requests: PromClient.Counter<'route' | 'method' | 'status'>;
  /** `duet_http_request_duration_seconds{route}`. */
  readonly latency: PromClient.Histogram<'route'>;
  /** `duet_http_errors_total{code}`. */
  readonly errors: PromClient.Counter<'code'>;
  /** `duet_generator_batch_size`: sequences per generator call. */
  readonly batchSizes: PromClient.Histogram;
  /** `duet_generator_batch_duration_seconds`. */
  readonly batchSeconds: PromClient.Histogram;
  /** `duet_sequences_total{kind}`: sequences turned into parameters. */
  readonly sequences: PromClient.Counter<'kind'>;
  /** `duet_http_inflight_requests`. */
  readonly inflight: PromClient.Gauge;
  /** `duet_model_info{fingerprint}` = 1. */
  readonly modelInfo: PromClient.Gauge<'fingerprint'>;
  /**
   * Counts one answer in {@link ServiceMetrics.requests} without a `prom-client` label lookup:
   * tallied in a plain map and added to the counter when the registry is read (a scrape). What
   * the service calls per request (under a retry storm, per refusal).
   */
  countRequest(route: string, method: string, status: string): void;
  /** Counts one error answer in {@link ServiceMetrics.errors}, tallied as {@link ServiceMetrics.countRequest}. */
  countError(code: string): void;
  /**
   * The exposition `/metrics` answers: this registry, or in a cluster worker the aggregate of
   * every worker (asked of the primary; this worker's own when the primary does not answer).
   */
  text(): Promise<string>;
  /** The content type of {@link ServiceMetrics.text}. */
  readonly contentType: string;
}

/** Options of {@link createServiceMetrics}. */
export interface ServiceMetricsOptions {
  /** Fingerprint of the served generator, for `duet_model_info`. Required. */
  fingerprint: string;
  /** Collect Node's process metrics (`process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
}

let promModule: PromClientModule | undefined;

/** `prom-client`, loaded at first use (Node only). */
export async function loadPromClient(): Promise<PromClientModule> {
  promModule ??= (await nodeRequire())('prom-client') as PromClientModule;
  return promModule;
}

const CLUSTER_REQUEST = 'duet-tf:cluster-metrics-request';
const CLUSTER_RESPONSE = 'duet-tf:cluster-metrics-response';
/** How long a worker waits for the primary's aggregate before answering with its own metrics. */
const CLUSTER_TIMEOUT_MS = 3000;

interface ClusterLike {
  isPrimary: boolean;
  isWorker: boolean;
  on(event: 'message', listener: (worker: { send(message: unknown): void }, message: unknown) => void): void;
}

interface WorkerProcess {
  send?: (message: unknown) => boolean;
  on(event: 'message', listener: (message: unknown) => void): void;
  off(event: 'message', listener: (message: unknown) => void): void;
}

function cluster(): Promise<ClusterLike> {
  return nodeRequire().then((req) => req('node:cluster') as ClusterLike);
}

let primaryInstalled = false;

/**
 * In a cluster primary: answers workers' requests for the aggregate by asking every worker
 * for its registry (prom-client's `AggregatorRegistry`) and summing them. Idempotent;
 * `runServe` calls it before forking.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) await serveClusterMetrics();
 * ```
 */
export async function serveClusterMetrics(): Promise<void> {
  const c = await cluster();
  if (!c.isPrimary || primaryInstalled) return;
  primaryInstalled = true;
  const prom = await loadPromClient();
  const aggregator = new prom.AggregatorRegistry();
  c.on('message', (worker, message) => {
    const m = message as { type?: unknown; id?: unknown } | null;
    if (m === null || typeof m !== 'object' || m.type !== CLUSTER_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: CLUSTER_RESPONSE, id: m.id, text }),
      (e: Error) => worker.send({ type: CLUSTER_RESPONSE, id: m.id, error: e.message }));
  });
}

/** Asks the primary for the cluster-wide metrics; null when it does not answer in time. */
function askPrimary(): Promise<string | null> {
  const proc = process as unknown as WorkerProcess;
  if (typeof proc.send !== 'function') return Promise.resolve(null);
  const id = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    const done = (text: string | null) => {
      clearTimeout(timer);
      proc.off('message', listener);
      resolve(text);
    };
    const listener = (message: unknown) => {
      const m = message as { type?: unknown; id?: unknown; text?: unknown } | null;
      if (m === null || typeof m !== 'object' || m.type !== CLUSTER_RESPONSE || m.id !== id) return;
      done(typeof m.text === 'string' && m.text !== '' ? m.text : null);
    };
    const timer = setTimeout(() => done(null), CLUSTER_TIMEOUT_MS);
    proc.on('message', listener);
    proc.send?.({ type: CLUSTER_REQUEST, id });
  });
}

/**
 * Creates a server's metrics in a registry of its own (two servers in one process never share
 * series). In a cluster worker the registry also becomes the one the primary aggregates.
 *
 * @example
 * ```ts
 * const metrics = await createServiceMetrics({ fingerprint: server.info.fingerprint });
 * metrics.requests.inc({ route: '/healthz', method: 'GET', status: '200' });
 * console.log(await metrics.text());
 * ```
 */
export async function createServiceMetrics(options: ServiceMetricsOptions): Promise<ServiceMetrics> {
  const prom = await loadPromClient();
  const registry = new prom.Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: registry });
  const inWorker = (await cluster()).isWorker;
  if (inWorker) {
    // The primary's AggregatorRegistry asks each worker's prom-client for these registries.
    new prom.AggregatorRegistry();
    prom.AggregatorRegistry.setRegistries([registry]);
  }
  const modelInfo = new prom.Gauge({
    name: 'duet_model_info', help: 'The served generator (value 1).', labelNames: ['fingerprint'],
    registers, aggregator: 'max',
  });
  modelInfo.set({ fingerprint: options.fingerprint }, 1);
  const inflight = new prom.Gauge({
    name: 'duet_http_inflight_requests', help: 'Requests being handled.', registers,
  });
  inflight.set(0);
  // Tallies added to their counters when the registry is read (collect), not per request.
  const requestTally = new Map<string, { labels: Record<'route' | 'method' | 'status', string>; n: number }>();
  const errorTally = new Map<string, number>();
  const requests = new prom.Counter({
    name: 'duet_http_requests_total', help: 'HTTP requests answered, by route, method and status.',
    labelNames: ['route', 'method', 'status'], registers,
    collect() {
      for (const { labels, n } of requestTally.values()) if (n > 0) this.inc(labels, n);
      for (const entry of requestTally.values()) entry.n = 0;
    },
  });
  const errors = new prom.Counter({
    name: 'duet_http_errors_total', help: 'Error answers, by error code.', labelNames: ['code'],
    registers,
    collect() {
      for (const [code, n] of errorTally) if (n > 0) this.inc({ code }, n);
      for (const code of errorTally.keys()) errorTally.set(code, 0);
    },
  });
  return {
    prom,
    registry,
    requests,
    countRequest(route: string, method: string, status: string) {
      const key = `${route} ${method} ${status}`;
      const entry = requestTally.get(key);
      if (entry !== undefined) entry.n++;
      else requestTally.set(key, { labels: { route, method, status }, n: 1 });
    },
    countError(code: string) {
      errorTally.set(code, (errorTally.get(code) ?? 0) + 1);
    },
    latency: new prom.Histogram({
      name: 'duet_http_request_duration_seconds', help: 'Time from request to response, by route.',
      labelNames: ['route'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    errors,
    batchSizes: new prom.Histogram({
      name: 'duet_generator_batch_size', help: 'Sequences per generator call.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers,
    }),
    batchSeconds: new prom.Histogram({
      name: 'duet_generator_batch_duration_seconds', help: 'Duration of one generator call.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1], registers,
    }),
    sequences: new prom.Counter({
      name: 'duet_sequences_total', help: 'Sequences turned into parameters, by request kind.',
      labelNames: ['kind'], registers,
    }),
    inflight,
    modelInfo,
    contentType: registry.contentType,
    text: async () => (inWorker ? (await askPrimary()) ?? registry.metrics() : registry.metrics()),
  };
}
