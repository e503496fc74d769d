/**
 * The overload scenario of `bench:serve` (`--scenario overload`): far more work than the server
 * can do, bounded in time and connections. `concurrency` lean keep-alive clients (default 1,000)
 * each send requests of `sequences` users (default 256) back to back for `duration` seconds
 * (default 20), retrying a 503 at once (ignoring `Retry-After`: the worst case) unless
 * `--retry-after honor`. The clients connect before the load starts (`--connect before`, 50 at a
 * time): a Node server accepts one new connection per event-loop turn (libuv ≥ 1.45), and under
 * this load a turn lasts a few hundred ms, so a burst of 1,000 connects (`--connect burst`)
 * measures mostly how long the last clients wait to be accepted. Meanwhile probes ask `/healthz`
 * every 100 ms on a new connection (as an orchestrator does), on the main port and on the health
 * port, from a thread of their own (so the load's client work does not delay them), and the
 * server's resident memory is sampled every 50 ms.
 *
 * One JSON record: 200s, 503s (by code), other answers and errors, p50/p99 of the 200s (all, and
 * those that followed a 503 on their connection), how long the 503s took, the
 * `/healthz` latencies (p50/p99/max, timeouts at 5 s), the server's idle and peak RSS, CPU per
 * request, the machine's load, and the targets of issue 13 with whether each is met.
 */
import { performance } from 'node:perf_hooks';

import { percentile, RawConnection, residentMegabytes, serverCpuSeconds } from './serve_common';

/** What the scenario needs from the bench runner. */
export interface OverloadContext {
  url: URL;
  /** The server's health port (`--health-port`), probed beside the main port; null: none. */
  healthUrl: URL | null;
  /** Open every client connection before the load ('before'), or all at once as it starts. */
  connect: 'before' | 'burst';
  serverPid: number;
  bodies: Buffer[];
  heads: Buffer[];
  expectedBytes: number;
  /** Users per request. */
  sequences: number;
  concurrency: number;
  duration: number;
  honorRetryAfter: boolean;
  /** The server's `--max-wait-ms` (for the p99 target). */
  maxWaitMs: number;
}

const round = (v: number, d = 2) => Number(v.toFixed(d));

// The probe thread: plain CommonJS, node:net only. For each URL, a GET /healthz on a new
// connection every 100 ms until the deadline; the latency is until the status line (null after
// 5 s). Posts { [url]: { ms, statuses } }.
const PROBE_THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const { performance } = require('node:perf_hooks');
const probe = (u) => new Promise((resolve) => {
  const began = performance.now();
  const socket = net.connect(Number(u.port), u.hostname);
  let text = '';
  let done = false;
  const finish = (ms, status) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    resolve({ ms, status });
  };
  const timer = setTimeout(() => finish(null, 0), 5000);
  socket.setEncoding('latin1');
  socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\nConnection: close\\r\\n\\r\\n'));
  socket.on('data', (d) => {
    text += d;
    if (text.indexOf('\\r\\n') >= 0) finish(performance.now() - began, Number(text.slice(9, 12)));
  });
  socket.on('error', () => finish(null, 0));
  socket.on('close', () => finish(null, 0));
});
const loop = async (href) => {
  const u = new URL(href);
  const ms = [];
  const statuses = {};
  while (Date.now() < workerData.end) {
    const p = await probe(u);
    ms.push(p.ms);
    statuses[p.status] = (statuses[p.status] || 0) + 1;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [href, { ms, statuses }];
};
Promise.all(workerData.urls.map(loop)).then((r) => parentPort.postMessage(Object.fromEntries(r)));
`;

type ProbeResults = Record<string, { ms: Array<number | null>; statuses: Record<string, number> }>;

/** Probes `urls` from a thread of its own until `end` (ms since the epoch). */
async function probeFromThread(urls: URL[], end: number): Promise<ProbeResults> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(PROBE_THREAD, { eval: true, workerData: { urls: urls.map((u) => u.origin), end } });
  try {
    return await new Promise<ProbeResults>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

/** A GET on a new connection, its latency in ms (Infinity after `timeoutMs`). */
async function probe(url: URL, path: string, timeoutMs: number): Promise<{ ms: number; status: number }> {
  const connection = new RawConnection(url);
  const began = performance.now();
  const head = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`, 'latin1');
  const timer = setTimeout(() => connection.expire(0), timeoutMs);
  try {
    const r = await connection.request(head, Buffer.alloc(0));
    return { ms: performance.now() - began, status: r.status };
  } catch {
    return { ms: Infinity, status: 0 };
  } finally {
    clearTimeout(timer);
    connection.close();
  }
}

const summary = (values: number[]) => {
  const sorted = Float64Array.from(values.filter(Number.isFinite)).sort();
  return {
    n: values.length, p50Ms: round(percentile(sorted, 0.5)), p99Ms: round(percentile(sorted, 0.99)),
    maxMs: sorted.length > 0 ? round(sorted[sorted.length - 1]) : null,
  };
};

/** Runs the scenario; returns its record (the caller prints it). */
export async function runOverload(ctx: OverloadContext): Promise<Record<string, unknown>> {
  const { url, serverPid } = ctx;
  // Idle: after start-up and the warm-up calls, before any load.
  await new Promise((r) => setTimeout(r, 500));
  const idleRss = residentMegabytes(serverPid);
  const idleHealth = summary(await Promise.all(Array.from({ length: 5 }, () => probe(url, '/healthz', 5000).then((p) => p.ms))));

  let peakRss = idleRss ?? 0;
  const sampler = setInterval(() => {
    const rss = residentMegabytes(serverPid);
    if (rss !== null && rss > peakRss) peakRss = rss;
  }, 50);
  const connections = Array.from({ length: ctx.concurrency }, () => new RawConnection(url));
  const connectBegan = performance.now();
  if (ctx.connect === 'before') {
    const hello = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, 'latin1');
    for (let i = 0; i < connections.length; i += 50) {
      await Promise.all(connections.slice(i, i + 50).map((c) => c.request(hello, Buffer.alloc(0))));
    }
  }
  const connectSeconds = (performance.now() - connectBegan) / 1000;
  const end = performance.now() + ctx.duration * 1000;
  const probed = probeFromThread(ctx.healthUrl === null ? [url] : [url, ctx.healthUrl],
    Date.now() + ctx.duration * 1000);
  const watchdog = setInterval(() => connections.forEach((c) => c.expire(30_000)), 1000);
  const latencies: number[] = [];
  // The 200s that followed a 503 on their connection (a retry sent at once, Retry-After ignored).
  const afterRefusal: number[] = [];
  // How long refusals took (an early retry's waits for its Retry-After, see RetryHold).
  const refusals: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let wrongLength = 0;
  let next = 0;
  let lastOk = 0;
  const cpuBefore = serverCpuSeconds(serverPid);
  const clientBefore = process.cpuUsage();
  const began = performance.now();
  await Promise.all(connections.map(async (connection) => {
    let refused = false;
    while (performance.now() < end) {
      const i = next++ % ctx.bodies.length;
      const t = performance.now();
      try {
        const r = await connection.request(ctx.heads[i], ctx.bodies[i]);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) {
          const ms = performance.now() - t;
          if (r.length === ctx.expectedBytes) {
            latencies.push(ms);
            lastOk = performance.now();
            if (refused) afterRefusal.push(ms);
          } else wrongLength++;
        }
        refused = r.status === 503;
        if (refused) refusals.push(performance.now() - t);
        if (refused && ctx.honorRetryAfter) await new Promise((resolve) => setTimeout(resolve, 1000));
      } catch {
        errors++;
        await new Promise((resolve) => setTimeout(resolve, 10)); // no hot loop on a broken connection
      }
    }
  }));
  const seconds = (performance.now() - began) / 1000;
  const clientCpu = process.cpuUsage(clientBefore);
  const cpuAfter = serverCpuSeconds(serverPid);
  clearInterval(watchdog);
  connections.forEach((c) => c.close());
  const probes = await probed;
  clearInterval(sampler);

  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ok = summary(latencies);
  const probeSummary = (u: URL) => {
    const { ms, statuses } = probes[u.origin];
    return { ...summary(ms.map((v) => v ?? Infinity)), timeouts: ms.filter((v) => v === null).length, statuses };
  };
  const mainProbes = probeSummary(url);
  const portProbes = ctx.healthUrl === null ? null : probeSummary(ctx.healthUrl);
  // Liveness as an orchestrator would probe it: on the health port when there is one.
  const live = portProbes ?? mainProbes;
  // Batch time: what the server's own histogram says a call took during the run.
  const metrics = await (await fetch(`${url.origin}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const batchMs = value('duet_generator_batch_duration_seconds_sum') * 1000 / value('duet_generator_batch_duration_seconds_count');
  const p99Limit = 5 * ctx.maxWaitMs + batchMs;
  return {
    requests: answered + errors, ok200: statuses[200] ?? 0, refused503: statuses[503] ?? 0,
    otherStatuses: Object.fromEntries(Object.entries(statuses).filter(([k]) => k !== '200' && k !== '503')),
    errors, wrongLength, seconds: round(seconds),
    // Over the time the 200s came in: held early retries (up to 1.5 × the longest Retry-After)
    // are refused after the load's end and would otherwise dilute the figure.
    usersPerSecond: round((statuses[200] ?? 0) * ctx.sequences / Math.max(1e-3, (Math.max(lastOk, began) - began) / 1000), 0),
    connect: ctx.connect, connectSeconds: round(connectSeconds),
    okLatency: ok, okAfter503Latency: summary(afterRefusal),
    refusedLatency: summary(refusals), healthz: { ...mainProbes, idle: idleHealth }, healthPort: portProbes,
    rssMb: { idle: idleRss === null ? null : round(idleRss, 1), peak: round(peakRss, 1),
      ratio: idleRss === null ? null : round(peakRss / idleRss) },
    meanBatchMs: round(batchMs),
    // Requests sent sooner than their connection's Retry-After (refused once it had passed).
    earlyRetries: value('duet_early_retries_total'),
    serverCpuUsPerRequest: cpuBefore === null || cpuAfter === null ? null :
      round((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) * 1e6 / Math.max(1, answered), 0),
    clientCpuSeconds: round((clientCpu.user + clientCpu.system) / 1e6),
    targets: {
      healthzP99Le50Ms: live.p99Ms <= 50 && live.n > 0 && live.timeouts === 0,
      rssLe2xIdle: idleRss !== null && peakRss <= 2 * idleRss,
      okP99LeLimit: { limitMs: round(p99Limit), met: ok.p99Ms <= p99Limit },
    },
  };
}
