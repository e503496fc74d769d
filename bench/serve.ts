/**
 * Load benchmark of `duet-tf serve` on loopback: requests/s and latency p50/p99 at several
 * concurrencies, one JSON line per level on stdout (progress on stderr).
 *
 * The server is the real CLI in its own process (`duet-tf serve`, run from source through tsx);
 * the client runs here, `concurrency` loops each keeping one request in flight over keep-alive
 * connections (a node:http Agent). Every level runs a fixed time (bounded) after a short warm-up,
 * then the server gets SIGTERM: the run stops by itself.
 *
 *   npm run bench:serve [-- --duration 5 --concurrency 1,16,64 --model sasrec --format f16
 *                          --workers 1 --backend auto --max-batch 64 --items 1000 --encoder gru
 *                          --client http]
 *
 * `--scenario overload` (issue 13) is one command with its own defaults: 256 users per request,
 * 1,000 raw clients, 20 s, the server at --max-batch 256 --max-wait-ms 10 --max-queue-ms 20 (an
 * accepted-latency budget within the p99 limit; 40 before 2026-12-03 14:00, the earlier rows)
 * (see bench/serve_overload.ts for what it records):
 *
 *   npm run -s bench:serve -- --scenario overload [--backend wasm --retry-after ignore|honor]
 *
 * `--generator-thread on|off` (both scenarios; default on, the server's default for a model folder)
 * runs the server's generator in a thread of its own or on its event loop.
 *
 * With `--max-queue` below `--sequences` (e.g. `--max-queue 255`) every request is refused: the
 * record's `serverCpuUsPerRequest` is then the server's CPU per refusal.
 *
 * `--client http` (default) is node:http with keep-alive agents, a typical Node client; `raw`
 * speaks HTTP/1.1 over one keep-alive socket per loop with prebuilt requests (a lean load
 * generator like wrk: it leaves more of a small machine's CPU to the server). Each level also
 * reports CPU time per request of the server (all its processes, from /proc) and the client.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  createModel, decodePayload, ModelKind, payloadByteLength, PayloadFormat, saveDuet, splitDuet,
  useBackend,
} from 'duet-tf';

import { percentile, post, RawConnection, serverCpuSeconds } from './serve_common';
import { runOverload } from './serve_overload';

const REPO = fileURLToPath(new URL('../', import.meta.url));

interface Options {
  scenario: 'levels' | 'overload';
  duration: number; warmup: number; concurrency: number[]; model: ModelKind; format: PayloadFormat;
  workers: number; backend: string; maxBatch: number; items: number; clickLength: number;
  encoder: string; client: 'http' | 'raw'; cpuProf?: string;
  /** Users per request (overload). */
  sequences: number;
  /** The server's --max-wait-ms and --max-queue-ms (overload; the levels leave the defaults). */
  maxWaitMs: number; maxQueueMs: number;
  /** The server's --max-queue (overload); below `sequences`, every request is refused (refusal cost). */
  maxQueue: number;
  /** The server's --max-retry-after (overload; default: the server's). */
  maxRetryAfter?: number;
  honorRetryAfter: boolean;
  /** Overload: open the clients' connections before the load, or all at once as it starts. */
  connect: 'before' | 'burst';
  /** The server's --generator-thread (default on, the server's default for a model folder). */
  generatorThread: 'on' | 'off';
}

const USAGE = 'usage: npm run -s bench:serve -- [--duration S] [--warmup S] [--concurrency 1,16,64] ' +
  '[--model sasrec|gru4rec|din] [--format f32|f16|int8] [--workers N] [--backend auto|wasm|cpu|tensorflow] ' +
  '[--max-batch N] [--items N] [--encoder gru|mean|attention|last] [--client http|raw] [--sequences N] ' +
  '[--max-wait-ms MS] [--max-queue-ms MS] [--max-queue N] [--max-retry-after S] [--generator-thread on|off] [--cpu-prof DIR]\n' +
  '       npm run -s bench:serve -- --scenario overload [--retry-after ignore|honor] [--connect before|burst] [same options]';

function parseArgs(argv: string[]): Options {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const overload = argv.includes('overload') && argv[argv.indexOf('overload') - 1] === '--scenario';
  // The overload scenario of issue 13: 256 users per request, 1,000 clients, 20 s.
  const o: Options = overload ?
    { scenario: 'overload', duration: 20, warmup: 0, concurrency: [1000], model: 'sasrec', format: 'f16',
      workers: 1, backend: 'auto', maxBatch: 256, items: 1000, clickLength: 30, encoder: 'gru',
      client: 'raw', sequences: 256, maxWaitMs: 10, maxQueueMs: 20, maxQueue: 4096, honorRetryAfter: false, connect: 'before',
      generatorThread: 'on' } :
    { scenario: 'levels', duration: 5, warmup: 1, concurrency: [1, 16, 64], model: 'sasrec', format: 'f16',
      workers: 1, backend: 'auto', maxBatch: 64, items: 1000, clickLength: 30, encoder: 'gru',
      client: 'http', sequences: 1, maxWaitMs: 0, maxQueueMs: 500, maxQueue: 100000, honorRetryAfter: false, connect: 'before',
      generatorThread: 'on' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`bench:serve: ${flag} needs a value`);
    const n = Number(value);
    switch (flag) {
      case '--duration': o.duration = Math.min(n, 60); break; // bounded
      case '--warmup': o.warmup = Math.min(n, 10); break;
      // Bounded: at most 256 clients per level, 1,000 in the overload scenario.
      case '--concurrency': o.concurrency = value.split(',').map(Number).map((c) => Math.min(c, overload ? 1000 : 256)); break;
      case '--scenario':
        if (value !== 'levels' && value !== 'overload') throw new Error('bench:serve: --scenario is levels or overload');
        break; // read above
      case '--sequences': o.sequences = Math.min(n, 256); break;
      case '--max-wait-ms': o.maxWaitMs = n; break;
      case '--max-queue-ms': o.maxQueueMs = n; break;
      case '--max-queue': o.maxQueue = n; break;
      case '--max-retry-after': o.maxRetryAfter = n; break;
      case '--retry-after':
        if (value !== 'ignore' && value !== 'honor') throw new Error('bench:serve: --retry-after is ignore or honor');
        o.honorRetryAfter = value === 'honor';
        break;
      case '--connect':
        if (value !== 'before' && value !== 'burst') throw new Error('bench:serve: --connect is before or burst');
        o.connect = value;
        break;
      case '--model': o.model = value as ModelKind; break;
      case '--format': o.format = value as PayloadFormat; break;
      case '--workers': o.workers = n; break;
      case '--backend': o.backend = value; break;
      case '--max-batch': o.maxBatch = n; break;
      case '--items': o.items = n; break;
      case '--encoder': o.encoder = value; break;
      case '--client':
        if (value !== 'http' && value !== 'raw') throw new Error('bench:serve: --client is http or raw');
        o.client = value;
        break;
      case '--generator-thread':
        if (value !== 'on' && value !== 'off') throw new Error('bench:serve: --generator-thread is on or off');
        o.generatorThread = value;
        break;
      case '--cpu-prof': o.cpuProf = value; break; // profile the server into this directory
      default: throw new Error(`bench:serve: unknown option ${flag}`);
    }
  }
  if (o.concurrency.some((c) => !Number.isInteger(c) || c < 1) || !(o.duration > 0)) {
    throw new Error('bench:serve: --concurrency must be positive integers and --duration > 0');
  }
  return o;
}

/** Starts `duet-tf serve` and resolves with its URL once it listens. */
function startServer(modelDir: string, o: Options):
    Promise<{ child: ChildProcess; url: string; healthUrl: string | null }> {
  const args = [...(o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProf] : []),
    '--import', 'tsx', path.join(REPO, 'src/cli/bin.ts'), 'serve', '--model-dir', modelDir,
    '--host', '127.0.0.1', '--port', '0', '--backend', o.backend, '--workers', String(o.workers),
    '--max-batch', String(o.maxBatch), '--generator-thread', o.generatorThread,
    // The levels measure throughput: no admission refusals. The overload scenario runs the
    // service's own queue limits (default --max-queue) with the configured waits.
    ...(o.scenario === 'levels' ? ['--max-queue', '100000'] :
      ['--max-wait-ms', String(o.maxWaitMs), '--max-queue-ms', String(o.maxQueueMs),
        '--max-queue', String(o.maxQueue),
        ...(o.maxRetryAfter === undefined ? [] : ['--max-retry-after', String(o.maxRetryAfter)]),
        '--max-sequences', String(o.sequences), '--health-port', '0'])];
  if (o.workers > 1) {
    // A cluster primary cannot report the port the workers picked: choose one up front.
    args[args.indexOf('--port') + 1] = String(20000 + Math.floor(Math.random() * 20000));
  }
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start in 90 s:\n${log}`));
    }, 90_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      log += d;
      const listening = [...log.matchAll(/listening on (http:\/\/[\d.]+:\d+)/g)];
      if (listening.length >= Math.max(1, o.workers)) {
        clearTimeout(timer);
        const health = /health checks also on (http:\/\/[\d.]+:\d+)/.exec(log);
        resolve({ child, url: listening[0][1], healthUrl: health === null ? null : health[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}):\n${log}`));
    });
  });
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function metrics(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  return r.text();
}

const round = (v: number, d = 2) => Number(v.toFixed(d));

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  await useBackend('cpu'); // only builds and saves the model here
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-bench-serve-'));
  let server: { child: ChildProcess; url: string; healthUrl: string | null } | null = null;
  try {
    // Untrained weights: the service's cost does not depend on what the weights hold.
    const { model } = createModel({ model: o.model, variant: 'duet', numItems: o.items,
      clickLength: o.clickLength, seed: 0, generator: { encoder: o.encoder } } as Parameters<typeof createModel>[0]);
    const { layout } = splitDuet(model);
    await saveDuet(model, path.join(dir, 'model'));
    model.dispose();
    console.error(`bench:serve: ${o.model} DUET, ${layout.total} parameters per user, ` +
      `${payloadByteLength(layout, { format: o.format })} bytes per ${o.format} payload; starting the server`);
    server = await startServer(path.join(dir, 'model'), o);
    // What 'auto' resolves to in the server: tfjs-node when installed, else wasm.
    const backend = o.backend !== 'auto' ? o.backend :
      await import('@tensorflow/tfjs-node' as string).then(() => 'tensorflow', () => 'wasm');
    const url = new URL(`${server.url}/v1/parameters?format=${o.format}`);

    // A pool of request bodies: random histories of 5..clickLength items.
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const history = () => Array.from({ length: 5 + Math.floor(rand() * (o.clickLength - 4)) },
      () => 1 + Math.floor(rand() * o.items));
    const bodies = Array.from({ length: o.scenario === 'overload' ? 64 : 512 }, () => JSON.stringify(
      o.scenario === 'overload' ? { sequences: Array.from({ length: o.sequences }, history) } : { sequence: history() }));
    const expectedBytes = payloadByteLength(layout, { format: o.format, batch: o.scenario === 'overload' ? o.sequences : 1 });
    // One payload checked in full: the bench measures real answers (unless --max-queue refuses all).
    if (o.maxQueue >= o.sequences) {
      const check = decodePayload(new Uint8Array((await post(new http.Agent(), url, bodies[0])).bytes));
      if (check.total !== layout.total) throw new Error('bench:serve: unexpected payload');
    }

    const heads = bodies.map((b) => Buffer.from(`POST ${url.pathname}${url.search} HTTP/1.1\r\n` +
      `Host: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n`, 'latin1'));
    const bodyBytes = bodies.map((b) => Buffer.from(b));

    if (o.scenario === 'overload') {
      const record = await runOverload({
        url, healthUrl: server.healthUrl === null ? null : new URL(server.healthUrl),
        connect: o.connect, serverPid: server.child.pid!, bodies: bodyBytes, heads, expectedBytes, sequences: o.sequences,
        concurrency: o.concurrency[0], duration: o.duration, honorRetryAfter: o.honorRetryAfter,
        maxWaitMs: o.maxWaitMs,
      });
      console.log(JSON.stringify({
        bench: 'serve-overload', model: `${o.model}-duet`, encoder: o.encoder, format: o.format, backend,
        generatorThread: o.generatorThread,
        sequencesPerRequest: o.sequences, concurrency: o.concurrency[0],
        server: { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs, maxQueueMs: o.maxQueueMs, maxQueue: o.maxQueue,
          maxRetryAfter: o.maxRetryAfter ?? 4 },
        retryAfter: o.honorRetryAfter ? 'honor' : 'ignore', ...record,
        cpus: os.cpus().length, loadAverage: os.loadavg().map((v) => round(v)),
      }));
      return;
    }

    for (const concurrency of o.concurrency) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const connections = Array.from({ length: concurrency }, () => new RawConnection(url));
      const run = async (seconds: number, record: boolean) => {
        const latencies: number[] = [];
        let errors = 0;
        let requests = 0;
        const end = performance.now() + seconds * 1000;
        let next = 0;
        // The raw client's timeout: one check a second instead of a timer per request.
        const watchdog = setInterval(() => connections.forEach((c) => c.expire(10_000)), 1000);
        await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
          while (performance.now() < end) {
            const i = next++ % bodies.length;
            const began = performance.now();
            try {
              if (o.client === 'raw') {
                const r = await connections[loop].request(heads[i], bodyBytes[i]);
                if (r.status !== 200 || r.length !== expectedBytes) errors++;
              } else {
                const r = await post(agent, url, bodies[i]);
                if (r.status !== 200 || r.bytes.length !== expectedBytes) errors++;
              }
            } catch {
              errors++;
            }
            requests++;
            if (record) latencies.push(performance.now() - began);
          }
        }));
        clearInterval(watchdog);
        return { latencies, errors, requests };
      };
      await run(o.warmup, false);
      const before = await metrics(server.url);
      const cpuBefore = serverCpuSeconds(server.child.pid!);
      const clientBefore = process.cpuUsage();
      const began = performance.now();
      const { latencies, errors, requests } = await run(o.duration, true);
      const seconds = (performance.now() - began) / 1000;
      const clientCpu = process.cpuUsage(clientBefore);
      const cpuAfter = serverCpuSeconds(server.child.pid!);
      const after = await metrics(server.url);
      agent.destroy();
      connections.forEach((c) => c.close());
      const sorted = Float64Array.from(latencies).sort();
      const batches = metric(after, 'duet_generator_batch_size_count') - metric(before, 'duet_generator_batch_size_count');
      const rows = metric(after, 'duet_generator_batch_size_sum') - metric(before, 'duet_generator_batch_size_sum');
      const genSeconds = metric(after, 'duet_generator_batch_duration_seconds_sum') -
        metric(before, 'duet_generator_batch_duration_seconds_sum');
      console.log(JSON.stringify({
        bench: 'serve', model: `${o.model}-duet`, encoder: o.encoder, client: o.client, generatorThread: o.generatorThread,
        parameters: layout.total, format: o.format,
        payloadBytes: expectedBytes, backend, workers: o.workers, concurrency, requests, errors,
        seconds: round(seconds), requestsPerSecond: round(requests / seconds, 1),
        p50Ms: round(percentile(sorted, 0.5)), p99Ms: round(percentile(sorted, 0.99)),
        // Batch counters are per worker process, and /metrics reaches any one of them: only
        // meaningful with one worker.
        meanBatch: batches > 0 && o.workers === 1 ? round(rows / batches) : null,
        generatorMsPerBatch: batches > 0 && o.workers === 1 ? round(genSeconds * 1000 / batches) : null,
        generatorBusy: o.workers === 1 ? round(genSeconds / seconds) : null,
        // CPU time per request (µs), server (all its processes) and this client.
        serverCpuUsPerRequest: cpuBefore === null || cpuAfter === null ? null :
          round((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) * 1e6 / requests, 0),
        serverSystemUsPerRequest: cpuBefore === null || cpuAfter === null ? null :
          round((cpuAfter.system - cpuBefore.system) * 1e6 / requests, 0),
        clientCpuUsPerRequest: round((clientCpu.user + clientCpu.system) / requests, 0),
        generatorUsPerRequest: o.workers === 1 ? round(genSeconds * 1e6 / requests, 0) : null,
        cpus: os.cpus().length, loadAverage: os.loadavg().map((v) => round(v)),
      }));
    }
  } finally {
    if (server !== null) {
      const exited = new Promise((resolve) => server!.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
