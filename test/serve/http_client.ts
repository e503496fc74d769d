import * as http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One HTTP request over loopback with node:http (any method, raw body, chunked or not). */
export function request(url: string, { method = 'GET', headers = {}, body, chunked = false, timeoutMs = 10_000, fresh = false }: {
  method?: string; headers?: Record<string, string>; body?: string | Uint8Array; chunked?: boolean; timeoutMs?: number;
  /** A new connection, not one from the shared keep-alive pool. */
  fresh?: boolean;
} = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !chunked) h['Content-Length'] = String(Buffer.byteLength(body));
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, agent: fresh ? false : agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) {
      if (chunked) {
        // Several writes without Content-Length: the server cannot know the size up front.
        const b = Buffer.from(body);
        const step = 64 * 1024;
        for (let i = 0; i < b.length; i += step) req.write(b.subarray(i, i + step));
      } else {
        req.write(body);
      }
    }
    req.end();
  });
}

export function json(r: RawResponse): any {
  return JSON.parse(r.body.toString('utf8'));
}

/**
 * POST `body` as JSON. Asks for the binary payload (`Accept: application/octet-stream`, as the
 * device runtime does) unless `headers` set `Accept` (or `accept`) themselves.
 */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const accept: Record<string, string> = Object.keys(headers).some((k) => k.toLowerCase() === 'accept') ? {} : { Accept: 'application/octet-stream' };
  return request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...accept, ...headers }, body: JSON.stringify(body) });
}
