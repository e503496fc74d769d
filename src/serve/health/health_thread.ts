/**
 * A health port answered off the main thread (Node only). Under heavy load a Node server's
 * event loop spends each turn on hundreds of sockets and generator calls, and a health probe on a
 * new connection can wait seconds for its turn. So `/healthz` and `/readyz` can also be served by
 * a small worker thread of their own, on their own port, from a state the main thread writes
 * into shared memory: how long ago its event loop last ran (a stalled loop fails liveness), and
 * its readiness.
 */
import { nodeRequire } from '../../backend/node_env';

/** Readiness states, as the shared state encodes them. */
export const HEALTH_STATES = ['ready', 'overloaded', 'draining', 'starting', 'failed'] as const;
/** One of {@link HEALTH_STATES}. */
export type HealthState = typeof HEALTH_STATES[number];

/** After this long without a tick from the main event loop, liveness fails, in ms. */
export const STALL_MS = 10_000;

// The thread: plain CommonJS (evaluated as a string, so it runs from the source and the bundle
// alike), node:http only. state[0] = last tick (ms since epoch), state[1] = readiness index,
// state[2] = served version (-1: none).
const THREAD_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const state = new BigInt64Array(workerData.state);
const STATES = ${JSON.stringify(HEALTH_STATES)};
const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  const idle = Date.now() - Number(Atomics.load(state, 0));
  const ready = STATES[Number(Atomics.load(state, 1))] || 'starting';
  const version = Number(Atomics.load(state, 2));
  let status = 404;
  let body;
  if (path === '/healthz') {
    const live = idle <= workerData.stallMs && ready !== 'draining' && ready !== 'failed';
    status = live ? 200 : 503;
    body = { status: ready === 'draining' || ready === 'failed' ? ready : live ? 'ok' : 'stalled', eventLoopIdleMs: idle };
  } else if (path === '/readyz') {
    const stalled = idle > workerData.stallMs;
    status = !stalled && ready === 'ready' ? 200 : 503;
    body = { status: stalled ? 'stalled' : ready, version: version < 0 ? null : version, eventLoopIdleMs: idle };
  } else {
    body = { error: { code: 'not_found', message: 'this port answers /healthz and /readyz' } };
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text) });
  res.end(text);
});
server.on('error', (e) => parentPort.postMessage({ error: e.message }));
server.listen(workerData.port, workerData.host, () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => {
  server.close(() => parentPort.postMessage({ closed: true }));
  server.closeAllConnections();
});
`;

/** A running health thread. */
export interface HealthThread {
  /** Its base URL, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Records a turn of the main event loop and the readiness now. */
  update(state: HealthState, version: number | null): void;
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Starts the health thread on `host:port` (0: a free port) and resolves once it listens.
 *
 * @example
 * ```ts
 * const health = await startHealthThread(8081, '127.0.0.1');
 * setInterval(() => health.update('ready', 3), 100).unref();
 * ```
 */
export async function startHealthThread(port: number, host: string): Promise<HealthThread> {
  const { Worker } = (await nodeRequire())('node:worker_threads') as typeof import('node:worker_threads');
  const shared = new SharedArrayBuffer(3 * 8);
  const state = new BigInt64Array(shared);
  Atomics.store(state, 0, BigInt(Date.now()));
  Atomics.store(state, 1, BigInt(HEALTH_STATES.indexOf('starting')));
  Atomics.store(state, 2, -1n);
  const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { state: shared, port, host, stallMs: STALL_MS } });
  worker.unref();
  const actual = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port?: number; error?: string }) => {
      if (m.port !== undefined) resolve(m.port);
      else reject(new Error(`the health port ${host}:${port} cannot listen: ${m.error}`));
    });
    worker.once('error', reject);
  });
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actual}`,
    update(s, version) {
      Atomics.store(state, 0, BigInt(Date.now()));
      Atomics.store(state, 1, BigInt(HEALTH_STATES.indexOf(s)));
      Atomics.store(state, 2, BigInt(version ?? -1));
    },
    async close() {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 2000);
        worker.once('message', () => {
          clearTimeout(timer);
          void worker.terminate().then(() => resolve());
        });
        worker.postMessage('close');
      });
    },
  };
}
