/**
 * A small HTTP server answering health probes as JSON from a function of the path (Node only):
 * what a cluster primary, whose event loop has nothing else to do, listens with for its workers.
 */
import { nodeRequire } from '../../backend/node_env';

/** A health answer: HTTP status and JSON body. */
export interface HealthAnswer {
  status: number;
  body: unknown;
}

/** A running health server. */
export interface HealthServer {
  /** Its base URL, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/** The answer to a path neither probe owns. */
export const NOT_A_PROBE: HealthAnswer = {
  status: 404, body: { error: { code: 'not_found', message: 'this port answers /healthz and /readyz' } },
};

/**
 * Listens on `host:port` (0: a free port); each request is answered with `answer(path)`.
 *
 * @example
 * ```ts
 * const health = await startHealthServer(8081, '127.0.0.1', (path) =>
 *   path === '/healthz' ? { status: 200, body: { status: 'ok' } } : NOT_A_PROBE);
 * ```
 */
export async function startHealthServer(port: number, host: string,
    answer: (path: string) => HealthAnswer): Promise<HealthServer> {
  const http = (await nodeRequire())('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const { status, body } = answer((req.url ?? '/').split('?')[0]);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error) => reject(new Error(`the health port ${host}:${port} cannot listen: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
