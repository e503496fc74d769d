/**
 * `createServer`: the generation service. The cloud runs only the generator's forward pass: a
 * device posts its recent behaviour and receives a few KB of parameters.
 *
 * Node only at call time (`node:http` is loaded lazily), so importing this module is harmless in
 * a browser bundle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import * as tfl from '@tensorflow/tfjs-layers';

import { isNode, nodeRequire } from '../backend/node_env';
import { IdMap, readItemMap } from '../data/id_map';
import { Crc32Function, useNativeCrc32 } from './crc32';
import { GeneratorInfo, GeneratorRunner } from './generator_runner';
import { loadGenerator } from './load_generator';
import { createServiceMetrics, type ServiceMetrics } from './metrics';
import { MicroBatcher } from './micro_batcher';
import { encodePayload, PAYLOAD_FORMATS, PAYLOAD_VERSION, PayloadFormat } from './payload';
import { GeneratorRow, parseParametersRequest } from './requests';
import { ServeError } from './serve_error';

type HttpModule = typeof import('node:http');

/** Cross-origin settings, for devices that are web pages on another origin. */
export interface CorsOptions {
  /** Allowed origins (`'https://app.example'`), or `'*'` for any. Required. */
  origins: '*' | readonly string[];
  /** How long browsers may cache a preflight answer, in seconds. Default 600. */
  maxAgeSeconds?: number;
}

/** Options of {@link createServer}. */
export interface ServerOptions {
  /**
   * The model: a directory saved with {@link saveDuet} holding a full DUET model or a generator
   * (Node), or an in-memory LayersModel of either kind. Required.
   */
  model: string | tfl.LayersModel;
  /** Port {@link ServerHandle.listen} uses when given none; 0 picks a free one. Default 8080. */
  port?: number;
  /** Host {@link ServerHandle.listen} binds when given none. Default `'127.0.0.1'`. */
  host?: string;
  /** Most sequences per generator call (micro-batching). Default 64. */
  maxBatch?: number;
  /**
   * How long a request waits for others to share its generator call, in ms. 0 (adaptive):
   * requests already received, and those arriving while a call runs, share the next call.
   * Default 0.
   */
  maxWaitMs?: number;
  /** Most sequences waiting for the generator; beyond it requests get 503. Default 4096. */
  maxQueue?: number;
  /** Largest accepted request body in bytes; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Most sequences in one request. Default 256. */
  maxSequences?: number;
  /** Binary payload format when the request names none. Default `'f32'`. */
  defaultFormat?: PayloadFormat;
  /**
   * The item map: requests' `sequence(s)` then hold the user's own item ids (strings, or numbers
   * matched by their text), mapped to the model's indices. An {@link IdMap} or the original ids
   * in index order. Default: the `items.tsv` beside a model directory (as `duet-tf train` writes
   * it), else none (ids are the model's indices 1..N).
   */
  items?: IdMap | readonly string[] | null;
  /** What a request's unknown item ids get when it does not say: `'error'` (400) or `'skip'`. Default `'error'`. */
  unknownIds?: 'error' | 'skip';
  /** Generator input length, only for generators whose input length is not fixed. */
  sequenceLength?: number;
  /** Vocabulary size, only when the generator's cannot be read from its ParameterGenerator. */
  vocabSize?: number;
  /**
   * Bearer token: when set, every route but `/healthz` and CORS preflights needs
   * `Authorization: Bearer <token>`. Default: no authentication.
   */
  token?: string;
  /** Cross-origin requests from browsers. Default: none allowed (no CORS headers). */
  cors?: CorsOptions;
  /** How long {@link ServerHandle.close} waits for in-flight requests, in ms. Default 10000. */
  shutdownTimeoutMs?: number;
  /** Where the server reports events (listening, errors). Default: nowhere. */
  log?: (message: string) => void;
}

/** Where a server listens. */
export interface ServerAddress {
  host: string;
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
}

/** A running (or ready) generation service. */
export interface ServerHandle {
  /** Starts listening; resolves with the address (port 0 → the port the system picked). */
  listen(port?: number, host?: string): Promise<ServerAddress>;
  /** The address once listening, else null. */
  readonly address: ServerAddress | null;
  /** What the generator accepts and produces (fingerprint, layout, length, vocabulary). */
  readonly info: GeneratorInfo;
  /**
   * The request handler, to mount the service in an existing Node server
   * (`http.createServer(handle.handler)` or a framework's raw handler).
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The metrics in Prometheus text format (what `GET /metrics` answers): the service's and
   * Node's process metrics; under `duet-tf serve --workers N`, summed over every worker.
   */
  metrics(): Promise<string>;
  /**
   * The server's `prom-client` registry and metrics, to add metrics of one's own beside them
   * (`new metrics.prom.Counter({ name, help, registers: [metrics.registry] })`).
   */
  readonly metricsRegistry: ServiceMetrics;
  /**
   * Stops accepting connections, finishes in-flight requests (up to `shutdownTimeoutMs`, then
   * drops what is left) and releases the model if the server loaded it. Idempotent.
   */
  close(): Promise<void>;
}

const ROUTES: Record<string, readonly string[]> = {
  '/v1/parameters': ['POST'],
  '/v1/model': ['GET', 'HEAD'],
  '/healthz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};
const OPEN_ROUTES = new Set(['/healthz']);
const FORMAT_HEADER = 'x-duet-format';
const FINGERPRINT_HEADER = 'X-Duet-Fingerprint';

function checkOption(value: unknown, key: string, min: number, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`'${key}' passed to 'createServer' must be an integer >= ${min}, got ` +
      `${String(value)}`);
  }
  return v;
}

async function httpModule(): Promise<HttpModule> {
  if (!isNode()) {
    throw new Error(`'createServer' needs Node.js (it runs an HTTP server); in a browser use ` +
      `the device runtime`);
  }
  return (await nodeRequire())('node:http') as HttpModule;
}

/** Constant-time comparison, so response timing does not reveal how much of a token matched. */
function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i % (a.length || 1)) || 0) ^ b.charCodeAt(i);
  return diff === 0;
}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const tooLarge = (size: string) => new ServeError(413, 'payload_too_large',
      `the body is ${size}; at most ${limit} bytes are accepted`);
    // Past the limit the rest is read and dropped (so the client sees the 413), up to a bound.
    const discardLimit = limit * 16 + (1 << 20);
    const discard = (error: ServeError) => {
      let dropped = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Uint8Array) => {
        dropped += chunk.length;
        if (dropped > discardLimit) req.destroy();
      });
      reject(error);
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      discard(tooLarge(`${declared} bytes`));
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    req.on('data', (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        discard(tooLarge(`over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      if (chunks.length === 1) {
        resolve(chunks[0]); // the usual small body: no copy
        return;
      }
      const body = new Uint8Array(size);
      let offset = 0;
      for (const c of chunks) {
        body.set(c, offset);
        offset += c.length;
      }
      resolve(body);
    });
    req.on('error', reject);
    // A client that goes away mid-body: 'end' never comes. 'close' follows every request, so
    // the error (and its stack trace) is built only when the body did not arrive.
    req.on('close', () => {
      if (!ended) reject(new ServeError(400, 'bad_request', 'the request was aborted'));
    });
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

/** Waits for `promise`, at most `ms` milliseconds, leaving no timer behind. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

function parseJson(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ServeError(400, 'bad_json', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') {
    throw new ServeError(400, 'bad_json', `the body is empty; send JSON such as ` +
      `{"sequence": [12, 7, 42]}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ServeError(400, 'bad_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
}

/** Throws the 422 a request gets when the generator turns it into non-finite parameters. */
function checkFinite(values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ServeError(422, 'invalid_embeddings', `the request drives the generator to ` +
        `non-finite parameters; check the embeddings' scale`);
    }
  }
}

/** The parts of a request URL the routes read; the query is parsed only when asked for. */
interface RequestUrl {
  pathname: string;
  query(): URLSearchParams | null;
}

// Plain origin-form paths, which WHATWG URL parsing leaves as they are: no dot segments, empty
// segments, backslashes, percent escapes or fragments.
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*)+\/?$|^\/$/;

/** Splits a request target without a full URL parse in the usual case. */
function requestUrl(target: string): RequestUrl {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(path)) {
    if (q < 0) return { pathname: path, query: () => null };
    if (!target.includes('#', q)) {
      let query: URLSearchParams | undefined;
      return { pathname: path, query: () => (query ??= new URLSearchParams(target.slice(q + 1))) };
    }
  }
  let url: URL;
  try {
    url = new URL(target, 'http://service.invalid');
  } catch {
    url = new URL('http://service.invalid/');
  }
  return { pathname: url.pathname, query: () => url.searchParams };
}

/**
 * Creates the generation service for a DUET model (loading it first when given a directory).
 *
 * Routes:
 * - `POST /v1/parameters`: body `{ "sequence": [ids] }`, `{ "sequences": [[ids], …] }`,
 *   `{ "embeddings": [[…], …] }` or `{ "embeddingSequences": [...] }` (see
 *   {@link parseParametersRequest}); with an item map (`items`) the ids are the user's own.
 *   Answers JSON, `{ fingerprint, format: "f32", layout, parameters: number[][] }`, unless the
 *   binary payload ({@link decodePayload}) is asked for: `Accept: application/octet-stream`, or
 *   (without `Accept: application/json`) a format named by `?format=f32|f16|int8` or the
 *   `X-Duet-Format` header; its format is that one, else `defaultFormat`. So a `curl` in a
 *   terminal reads JSON, and the device runtime gets the compact payload.
 *   Concurrent requests share generator calls (micro-batching).
 * - `GET /v1/model`: fingerprint, layout, sequence length, accepted request kinds, `ids`
 *   (`'original'` with an item map, else `'internal'`) and `items` (the map's size or null).
 * - `GET /healthz`: `{ status: "ok" }` (503 `draining` during shutdown).
 * - `GET /metrics`: Prometheus text format.
 *
 * The body is JSON; `Content-Type` may be missing, `application/json`, `text/plain` or
 * `application/x-www-form-urlencoded` (what `curl -d` sends), anything else gets 415.
 *
 * Every error is `{ "error": { "code", "message" } }` with a 4xx status: malformed JSON, wrong
 * types, unknown ids, empty sequences (400), missing token (401), oversized bodies (413),
 * unknown routes (404), wrong methods (405), a full queue (503); malformed HTTP itself gets a
 * JSON 400 and the connection closes.
 *
 * @example
 * ```ts
 * const server = await createServer({ model: './models/duet', maxBatch: 64, maxWaitMs: 0 });
 * const { url } = await server.listen(8080, '127.0.0.1');
 * // curl -X POST $url/v1/parameters -d '{"sequence":[3,9,27]}' --output params.bin
 * process.on('SIGTERM', () => server.close());
 * ```
 */
export async function createServer(options: ServerOptions): Promise<ServerHandle> {
  if (options === null || typeof options !== 'object' || options.model === undefined) {
    throw new Error(`'createServer' needs options with 'model' (a model directory or a ` +
      `LayersModel)`);
  }
  const maxBody = checkOption(options.maxBodyBytes, 'maxBodyBytes', 1, 1 << 20);
  const maxSequences = checkOption(options.maxSequences, 'maxSequences', 1, 256);
  const shutdownTimeout = checkOption(options.shutdownTimeoutMs, 'shutdownTimeoutMs', 0, 10_000);
  const defaultFormat = options.defaultFormat ?? 'f32';
  if (!PAYLOAD_FORMATS.includes(defaultFormat)) {
    throw new Error(`'defaultFormat' passed to 'createServer' must be one of 'f32', 'f16', ` +
      `'int8', got ${JSON.stringify(defaultFormat)}`);
  }
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    throw new Error(`'token' passed to 'createServer' must be a non-empty string`);
  }
  const cors = options.cors;
  if (cors !== undefined && cors.origins !== '*' && !Array.isArray(cors.origins)) {
    throw new Error(`'cors.origins' passed to 'createServer' must be '*' or an array of origins`);
  }
  const log = options.log ?? (() => undefined);
  const http = await httpModule();
  // Payload checksums through zlib's native CRC-32 where Node has it (20.15+): ≈ 4× faster.
  const zlib = (await nodeRequire())('node:zlib') as { crc32?: Crc32Function };
  if (typeof zlib.crc32 === 'function') useNativeCrc32(zlib.crc32);

  const ownsModel = typeof options.model === 'string';
  const generator = await loadGenerator(options.model);
  const runner = new GeneratorRunner(generator, {
    sequenceLength: options.sequenceLength, vocabSize: options.vocabSize,
  });
  const info = runner.info;
  const items = options.items === undefined ?
    (typeof options.model === 'string' ? await readItemMap(options.model) : null) :
    options.items === null || options.items instanceof IdMap ? options.items : new IdMap(options.items);
  const unknownIds = options.unknownIds ?? 'error';
  if (unknownIds !== 'error' && unknownIds !== 'skip') {
    throw new Error(`'unknownIds' passed to 'createServer' must be 'error' or 'skip', got ` +
      `${JSON.stringify(unknownIds)}`);
  }
  const limits = { ...runner.limits, maxSequences, items, unknownIds };

  const metrics = await createServiceMetrics({ fingerprint: info.fingerprint });
  const { requests, latency, errors, batchSizes, batchSeconds, sequences } = metrics;
  const inflightGauge = metrics.inflight;

  const batcher = new MicroBatcher<GeneratorRow>((rows) => runner.generate(rows), info.total, {
    maxBatch: options.maxBatch, maxWaitMs: options.maxWaitMs, maxQueue: options.maxQueue,
    onBatch: (rows, seconds) => {
      batchSizes.observe(rows);
      batchSeconds.observe(seconds);
    },
  });

  let inflight = 0;
  let idleWaiters: Array<() => void> = [];
  let draining = false;
  let server: Server | null = null;
  let address: ServerAddress | null = null;
  let closing: Promise<void> | null = null;

  const corsOrigin = (req: IncomingMessage): string | null => {
    const origin = req.headers.origin;
    if (cors === undefined || typeof origin !== 'string') return null;
    return cors.origins === '*' || cors.origins.includes(origin) ? origin : null;
  };

  const send = (res: ServerResponse, status: number, body: string | Uint8Array,
      type: string, headers?: Record<string, string>) => {
    if (res.headersSent || res.destroyed) return;
    const data = typeof body === 'string' ? textEncoder.encode(body) : body;
    // One writeHead: cheaper than a setHeader per field (headers set earlier, e.g. CORS, merge).
    const all: Record<string, string | number> = {
      'Content-Type': type, 'Content-Length': data.length, 'Cache-Control': 'no-store', ...headers,
    };
    if (draining) all.Connection = 'close';
    res.writeHead(status, all);
    res.end(data);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown,
      headers?: Record<string, string>) =>
    send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
  const sendError = (res: ServerResponse, error: unknown) => {
    let e: ServeError;
    if (error instanceof ServeError) e = error;
    else {
      log(`duet-tf serve: internal error: ${(error as Error)?.stack ?? String(error)}`);
      e = new ServeError(500, 'internal', 'the service failed to handle the request');
    }
    errors.inc({ code: e.code });
    const headers: Record<string, string> = {};
    if (e.status === 401) headers['WWW-Authenticate'] = 'Bearer';
    sendJson(res, e.status, { error: { code: e.code, message: e.message } }, headers);
  };

  // JSON unless the binary payload is asked for (a device does; curl in a terminal does not):
  // Accept naming application/octet-stream, or, when Accept names no JSON, a format named.
  const wantsBinary = (url: RequestUrl, req: IncomingMessage): boolean => {
    const accept = req.headers.accept ?? '';
    if (accept.includes('application/octet-stream')) return true;
    if (accept.includes('application/json')) return false;
    return url.query()?.get('format') != null || typeof req.headers[FORMAT_HEADER] === 'string';
  };

  const formatOf = (url: RequestUrl, req: IncomingMessage): PayloadFormat => {
    const header = req.headers[FORMAT_HEADER];
    const requested = url.query()?.get('format') ??
      (typeof header === 'string' ? header : undefined) ?? defaultFormat;
    if (!PAYLOAD_FORMATS.includes(requested as PayloadFormat)) {
      throw new ServeError(400, 'bad_format', `unknown payload format ` +
        `${JSON.stringify(requested)}; use 'f32', 'f16' or 'int8'`);
    }
    return requested as PayloadFormat;
  };

  const parameters = async (req: IncomingMessage, res: ServerResponse, url: RequestUrl) => {
    const format = formatOf(url, req);
    const type = req.headers['content-type'];
    // The body is read as JSON whatever the type says, among those a JSON body plausibly comes
    // with: form-urlencoded is what `curl -d` sends, text/plain avoids a CORS preflight.
    if (type !== undefined &&
        !/^\s*(application\/json|text\/plain|application\/x-www-form-urlencoded)\s*(;|$)/i.test(type)) {
      throw new ServeError(415, 'unsupported_media_type', `the body must be JSON ` +
        `(Content-Type application/json), got '${type}'`);
    }
    const rows = parseParametersRequest(parseJson(await readBody(req, maxBody)), limits);
    const values = await batcher.submit(rows);
    if (!wantsBinary(url, req)) {
      checkFinite(values);
      sequences.inc({ kind: rows[0].kind }, rows.length);
      const parameters = rows.map((_, i) =>
        Array.from(values.subarray(i * info.total, (i + 1) * info.total)));
      sendJson(res, 200, { fingerprint: info.fingerprint, format: 'f32', layout: info.layout, parameters },
        { [FINGERPRINT_HEADER]: info.fingerprint });
      return;
    }
    let bytes: Uint8Array;
    try {
      // The encoder rejects non-finite values itself: no separate pass over them here.
      bytes = encodePayload(values, { layout: info.layout, fingerprint: info.fingerprint, format,
        batch: rows.length });
    } catch (e) {
      checkFinite(values);
      throw new ServeError(422, 'bad_format', `the parameters cannot be sent as '${format}': ` +
        `${(e as Error).message}`);
    }
    sequences.inc({ kind: rows[0].kind }, rows.length);
    send(res, 200, bytes, 'application/octet-stream', binaryHeaders[format]);
  };

  // Built once: the binary answer's extra headers per format.
  const binaryHeaders: Record<string, Record<string, string>> = Object.fromEntries(
    PAYLOAD_FORMATS.map((f) => [f, { [FINGERPRINT_HEADER]: info.fingerprint, 'X-Duet-Format': f }]));

  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse, url: RequestUrl) =>
      void | Promise<void>> = {
    '/v1/parameters': parameters,
    '/v1/model': (_req, res) => sendJson(res, 200, {
      fingerprint: info.fingerprint, layout: info.layout, total: info.total,
      sequenceLength: info.sequenceLength, vocabSize: info.vocabSize,
      embeddingDim: info.embeddingDim, formats: PAYLOAD_FORMATS, payloadVersion: PAYLOAD_VERSION,
      ids: items === null ? 'internal' : 'original', items: items?.size ?? null, unknownIds,
      requests: [
        ...(info.vocabSize !== null ? ['sequence', 'sequences'] : []),
        ...(info.embeddingDim !== null ? ['embeddings', 'embeddingSequences'] : []),
      ],
    }),
    '/healthz': (_req, res) => draining ?
      sendJson(res, 503, { status: 'draining', fingerprint: info.fingerprint }) :
      sendJson(res, 200, { status: 'ok', fingerprint: info.fingerprint }),
    '/metrics': async (_req, res) => send(res, 200, await metrics.text(), metrics.contentType),
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: RequestUrl) => {
    const origin = corsOrigin(req);
    if (origin !== null) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', `${FINGERPRINT_HEADER}, X-Duet-Format`);
    }
    const methods = ROUTES[url.pathname];
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS' && methods !== undefined) {
      if (origin === null) {
        throw new ServeError(403, 'forbidden_origin', `cross-origin requests from ` +
          `${JSON.stringify(req.headers.origin ?? null)} are not allowed`);
      }
      res.statusCode = 204;
      res.setHeader('Access-Control-Allow-Methods', [...methods, 'OPTIONS'].join(', '));
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept, X-Duet-Format');
      res.setHeader('Access-Control-Max-Age', String(cors?.maxAgeSeconds ?? 600));
      res.end();
      return;
    }
    if (methods === undefined) {
      throw new ServeError(404, 'not_found', `no route ${url.pathname}; routes: ` +
        `${Object.keys(ROUTES).join(', ')}`);
    }
    if (!methods.includes(method)) {
      res.setHeader('Allow', [...methods, 'OPTIONS'].join(', '));
      throw new ServeError(405, 'method_not_allowed', `${url.pathname} accepts ` +
        `${methods.join(', ')}, not ${method}`);
    }
    if (options.token !== undefined && !OPEN_ROUTES.has(url.pathname)) {
      const auth = req.headers.authorization ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(auth);
      if (match === null || !sameText(match[1].trim(), options.token)) {
        throw new ServeError(401, 'unauthorized', match === null ?
          `this service needs 'Authorization: Bearer <token>'` : `the bearer token is not valid`);
      }
    }
    await handlers[url.pathname](req, res, url);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const began = performance.now();
    inflight++;
    inflightGauge.inc();
    const url = requestUrl(req.url ?? '/');
    const routeLabel = ROUTES[url.pathname] !== undefined ? url.pathname : 'unmatched';
    // 'close' follows every response, finished or aborted (Node ≥ 16): one listener suffices.
    res.once('close', () => {
      inflight--;
      inflightGauge.dec();
      requests.inc({ route: routeLabel, method: ROUTE_METHODS.has(req.method ?? '') ?
        String(req.method) : 'other', status: String(res.statusCode) });
      latency.observe({ route: routeLabel }, (performance.now() - began) / 1000);
      if (inflight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        waiters.forEach((w) => w());
      }
    });
    route(req, res, url).catch((error) => sendError(res, error));
  };

  const waitIdle = (ms: number) => new Promise<void>((resolve) => {
    if (inflight === 0) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, ms);
    idleWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });

  const handle: ServerHandle = {
    info,
    handler,
    get address() {
      return address;
    },
    metrics: () => metrics.text(),
    metricsRegistry: metrics,
    listen(port = options.port ?? 8080, host = options.host ?? '127.0.0.1') {
      if (server !== null) {
        return Promise.reject(new Error(`'ServerHandle.listen': the server is already listening`));
      }
      if (closing !== null) {
        return Promise.reject(new Error(`'ServerHandle.listen': the server is closed`));
      }
      const s = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handler);
      // Broken HTTP (bad framing, huge headers, timeouts) gets a JSON error too, then the
      // connection closes: after a framing error nothing more on it can be trusted.
      s.on('clientError', (error: Error & { code?: string }, socket) => {
        if (error.code === 'ECONNRESET' || !socket.writable) {
          socket.destroy();
          return;
        }
        const [status, reason, code] = error.code === 'HPE_HEADER_OVERFLOW' ?
          [431, 'Request Header Fields Too Large', 'bad_request'] :
          error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'bad_request'] :
            [400, 'Bad Request', 'bad_request'];
        errors.inc({ code });
        const body = textEncoder.encode(JSON.stringify({ error: { code,
          message: `malformed HTTP request (${error.code ?? error.message})` } }));
        socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; ` +
          `charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` +
          new TextDecoder().decode(body));
      });
      server = s;
      return new Promise<ServerAddress>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          s.on('error', (e) => log(`duet-tf serve: server error: ${e.message}`));
          const a = s.address();
          const actualPort = typeof a === 'object' && a !== null ? a.port : port;
          const urlHost = host.includes(':') ? `[${host}]` : host;
          address = { host, port: actualPort, url: `http://${urlHost}:${actualPort}` };
          log(`duet-tf serve: listening on ${address.url} (generator ${info.fingerprint}, ` +
            `${info.total} parameters per user)`);
          resolve(address);
        });
      });
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const s = server;
        const closed = s === null ? Promise.resolve() :
          new Promise<void>((resolve) => s.close(() => resolve()));
        s?.closeIdleConnections();
        const deadline = performance.now() + shutdownTimeout;
        await withTimeout(batcher.drain(), shutdownTimeout);
        await waitIdle(Math.max(0, deadline - performance.now()));
        s?.closeIdleConnections();
        const force = setTimeout(() => s?.closeAllConnections(),
          Math.max(0, deadline - performance.now()));
        await closed;
        clearTimeout(force);
        runner.dispose();
        if (ownsModel) {
          try {
            generator.dispose();
          } catch {
            // Already released: nothing left to free.
          }
        }
        address = null;
      })();
      return closing;
    },
  };
  return handle;
}

const ROUTE_METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']);
