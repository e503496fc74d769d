/**
 * The overload scenario of `bench:serve` (`--scenario overload`): far more work than the server
 * can do, bounded in time and connections. `concurrency` lean keep-alive clients (default 1,000)
 * each send requests of `sequences` users (default 256) back to back for `duration` seconds
 * (default 20), retrying a 503 at once (ignoring `Retry-After`: the worst case) unless
 * `--retry-after honor`. Meanwhile a probe asks `/healthz` every 100 ms on a new connection (as
 * an orchestrator does) and the server's resident memory is sampled every 50 ms.
 *
 * One JSON record: 200s, 503s (by code), other answers and errors, p50/p99 of the 200s, the
 * `/healthz` latencies (p50/p99/max, timeouts at 5 s), the server's idle and peak RSS, CPU per
 * request, the machine's load, and the targets of issue 13 with whether each is met.
 */
import { performance } from 'node:perf_hooks';

import { percentile, RawConnection, residentMegabytes, serverCpuSeconds } from './serve_common';

/** What the scenario needs from the bench runner. */
export interface OverloadContext {
  url: URL;
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
  const end = performance.now() + ctx.duration * 1000;
  const health: number[] = [];
  const healthStatus: Record<string, number> = {};
  const prober = (async () => {
    while (performance.now() < end) {
      const p = await probe(url, '/healthz', 5000);
      health.push(p.ms);
      healthStatus[p.status] = (healthStatus[p.status] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const connections = Array.from({ length: ctx.concurrency }, () => new RawConnection(url));
  const watchdog = setInterval(() => connections.forEach((c) => c.expire(30_000)), 1000);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let wrongLength = 0;
  let next = 0;
  const cpuBefore = serverCpuSeconds(serverPid);
  const clientBefore = process.cpuUsage();
  const began = performance.now();
  await Promise.all(connections.map(async (connection) => {
    while (performance.now() < end) {
      const i = next++ % ctx.bodies.length;
      const t = performance.now();
      try {
        const r = await connection.request(ctx.heads[i], ctx.bodies[i]);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) {
          if (r.length === ctx.expectedBytes) latencies.push(performance.now() - t);
          else wrongLength++;
        } else if (r.status === 503 && ctx.honorRetryAfter) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
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
  await prober;
  clearInterval(sampler);

  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ok = summary(latencies);
  const probes = summary(health);
  // Batch time: what the server's own histogram says a call took during the run.
  const metrics = await (await fetch(`${url.origin}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const batchMs = value('duet_generator_batch_duration_seconds_sum') * 1000 / value('duet_generator_batch_duration_seconds_count');
  const p99Limit = 5 * ctx.maxWaitMs + batchMs;
  return {
    requests: answered + errors, ok200: statuses[200] ?? 0, refused503: statuses[503] ?? 0,
    otherStatuses: Object.fromEntries(Object.entries(statuses).filter(([k]) => k !== '200' && k !== '503')),
    errors, wrongLength, seconds: round(seconds),
    usersPerSecond: round((statuses[200] ?? 0) * ctx.sequences / seconds, 0),
    okLatency: ok, healthz: { ...probes, statuses: healthStatus, idle: idleHealth },
    rssMb: { idle: idleRss === null ? null : round(idleRss, 1), peak: round(peakRss, 1),
      ratio: idleRss === null ? null : round(peakRss / idleRss) },
    meanBatchMs: round(batchMs),
    serverCpuUsPerRequest: cpuBefore === null || cpuAfter === null ? null :
      round((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) * 1e6 / Math.max(1, answered), 0),
    clientCpuSeconds: round((clientCpu.user + clientCpu.system) / 1e6),
    targets: {
      healthzP99Le50Ms: probes.p99Ms <= 50 && probes.n > 0 && health.every(Number.isFinite),
      rssLe2xIdle: idleRss !== null && peakRss <= 2 * idleRss,
      okP99LeLimit: { limitMs: round(p99Limit), met: ok.p99Ms <= p99Limit },
    },
  };
}
