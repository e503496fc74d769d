/**
 * A listening socket that hands connections to an HTTP server up to a limit; past it, a new
 * connection gets a short 503 (`Retry-After`, JSON, `Connection: close`) instead of a reset, and
 * is closed once the client has read it (Node only).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';

import { nodeRequire } from '../backend/node_env';

/** How long a refused connection may linger before it is dropped, in ms. */
const REFUSED_LINGER_MS = 2000;

/**
 * A `net` server feeding `http` at most `maxConnections` open connections at once (Infinity: no
 * limit). `onRefused` is called for each connection turned away.
 *
 * @example
 * ```ts
 * const listener = await limitedListener(httpServer, 1000, () => refused++);
 * listener.listen(8080, '127.0.0.1');
 * ```
 */
export async function limitedListener(http: HttpServer, maxConnections: number,
    onRefused: () => void): Promise<NetServer> {
  const net = (await nodeRequire())('node:net') as typeof import('node:net');
  let open = 0;
  const body = JSON.stringify({ error: { code: 'overloaded', message: `the service has ` +
    `${maxConnections} open connections (its limit); retry shortly` } });
  const refusal = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; ` +
    `charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\n` +
    `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`;
  return net.createServer((socket: Socket) => {
    if (open >= maxConnections) {
      onRefused();
      // Read and drop what the client sends, so closing does not reset the connection before
      // the client has read the answer.
      socket.on('data', () => undefined);
      socket.on('error', () => socket.destroy());
      const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
      socket.once('close', () => clearTimeout(timer));
      socket.end(refusal);
      return;
    }
    open++;
    socket.once('close', () => {
      open--;
    });
    http.emit('connection', socket);
  });
}
