/**
 * A tiny static file server for the browser example (loopback only): the page, its bundle, the
 * catalogue and the device model, plus `/config.json` telling the page where the service is.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

/** What the page reads from `/config.json`. */
export interface PageConfig {
  /** Base URL of `duet-tf serve`. */
  serviceUrl: string;
  /** Payload format the device asks for. Default `'f16'`. */
  format?: 'f32' | 'f16' | 'int8';
  /** How long the device waits for the service, in ms. Default 1500. */
  timeoutMs?: number;
  /** How long fetched parameters stay usable when the service goes away, in ms. Default 60000. */
  cacheTtlMs?: number;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Serves `root` on `host:port` (port 0 picks one); resolves with the URL and a `close`.
 *
 * @example
 * ```ts
 * const site = await startStaticServer({ root: 'examples/browser/dist', port: 8000,
 *   config: { serviceUrl: 'http://127.0.0.1:8080' } });
 * console.log(site.url);
 * ```
 */
export async function startStaticServer(options: {
  root: string; config: PageConfig | (() => PageConfig); port?: number; host?: string;
}): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new Error(`'startStaticServer' serves on loopback only (127.0.0.1, ::1), got '${host}'`);
  }
  const root = path.resolve(options.root);
  // A function: the service's address may be known only after this server has a port.
  const config = () => JSON.stringify(typeof options.config === 'function' ? options.config() :
    options.config);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local.invalid');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/config.json') {
      res.writeHead(200, { 'Content-Type': TYPES['.json'] }).end(config());
      return;
    }
    let file: string;
    try {
      file = path.resolve(root, `.${decodeURIComponent(url.pathname)}`);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.pathname.endsWith('/')) file = path.join(file, 'index.html');
    // Nothing outside the root, whatever the path says.
    if (file !== root && !file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (error, data) => {
      if (error) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
        return;
      }
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': String(data.length),
      });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port ?? 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
