/**
 * `createServer`: the generation service. The cloud runs only the generator's forward pass: a
 * device posts its recent behaviour and receives a few KB of parameters.
 *
 * Node only at call time (`node:http` is loaded lazily), so importing this module is harmless in
 * a browser bundle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { isNode, nodeRequire } from '../backend/node_env';
import { IdMap, readItemMap } from '../data/id_map';
import { Crc32Function, useNativeCrc32 } from './crc32';
import { LimitedListener, limitedListener } from './connection_limit';
import { HealthThread, startHealthThread } from './health/health_thread';
import { RetryHold } from './retry_hold';
import { GeneratorInfo } from './generator_runner';
import { createServiceMetrics, type ServiceMetrics } from './metrics';
import { encodePayload, PAYLOAD_FORMATS, PAYLOAD_VERSION, PayloadFormat } from './payload';
import { parseParametersRequest } from './requests';
import { ServeError } from './serve_error';
import { useGeneratorThread } from './thread/use_thread';
import { ModelSource, resolveModelSource, sourceIdentity } from './versions/model_versions';
import { ServedModel, ServedModelOptions } from './versions/served_model';

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
   * The model: a directory saved with {@link saveDuet} holding a full DUET model or a generator,
   * or a directory of numbered version folders (`1/`, `2/`, …; the highest complete one is
   * served) (Node), or an in-memory LayersModel of either kind. Required.
   */
  model: string | tfl.LayersModel;
  /** Serve this version of a versioned model directory, not the newest. Default: the newest. */
  version?: number;
  /**
   * Check the model directory for a new version (or a replaced model folder) every this many
   * seconds, and switch to it (loaded and warmed first). 0: only on {@link ServerHandle.reload}
   * (SIGHUP in `duet-tf serve`). Default 0.
   */
  pollSeconds?: number;
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
  /**
   * Longest a request may expect to wait for the generator, in ms (the sequences ahead of it,
   * queued and in calls not answered yet, at the pace the queue was measured to drain at: with a
   * generator thread, its calls' own time there; on the server's thread, calls and the
   * event-loop turns between them);
   * beyond it requests get 503 `overloaded` with `Retry-After`,
   * at once, before their body is read. Default 500.
   */
  maxQueueMs?: number;
  /**
   * Longest `Retry-After` in seconds given to a connection that keeps retrying sooner than it
   * was told: each early retry in a row doubles the service's own value up to this (see
   * `RetryHold`); back to the service's value once the connection honours one or is admitted.
   * 1: no growth. Default 4.
   */
  maxRetryAfterSeconds?: number;
  /**
   * Most open connections ({@link ServerHandle.listen} only); past it a new connection gets a
   * 503 and is closed. Default: no limit.
   */
  maxConnections?: number;
  /**
   * Also answer `/healthz` and `/readyz` on this port (0: a free one), from a worker thread of
   * their own, so probes get an answer in milliseconds whatever the load on the main event loop
   * (there, under heavy load, a probe on a new connection can wait seconds for its turn).
   * Liveness fails when the main event loop has not run for 10 s. {@link ServerHandle.listen}
   * only. Default: none (the main port's routes only).
   */
  healthPort?: number;
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
   * Run the generator in a worker thread of its own (Node's `worker_threads`), so its calls do
   * not hold up the event loop that reads, refuses and answers requests: the thread loads the
   * model folder itself on the server's backend (`tf.getBackend()` when the server is created),
   * warms it, and runs the batches; two batches are in flight at once, so it goes from one call
   * to the next; rows in flight count as queued for admission. If the thread dies, every
   * pending and later request gets 500 `generator_failed`, readiness and liveness report
   * `failed`, and `onGeneratorFailure` is called (a reload starts a new thread). A model
   * folder, on the wasm or cpu backend (tfjs-node does not load in a second thread). Default:
   * true for a model folder on those, else false.
   */
  generatorThread?: boolean;
  /**
   * Called once when the served generator's thread dies (see `generatorThread`), with the
   * reason; `duet-tf serve` then stops with exit code 1. Default: only logged.
   */
  onGeneratorFailure?: (error: Error) => void;
  /**
   * Bearer token: when set, every route but `/healthz` and CORS preflights needs
   * `Authorization: Bearer <token>`. Default: no authentication.
   */
  token?: string;
  /** Cross-origin requests from browsers. Default: none allowed (no CORS headers). */
  cors?: CorsOptions;
  /**
   * How long {@link ServerHandle.close} waits for in-flight requests, in ms (and how long an old
   * model version is kept for its requests after a switch). Default 10000.
   */
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
  /** The health port's base URL once listening with `healthPort`, else null. */
  readonly healthUrl: string | null;
  /**
   * What `/readyz` says now: `'ready'`, `'overloaded'`, `'draining'`, or `'failed'` (the
   * generator thread died).
   */
  readiness(): Readiness;
  /** Whether the served generator runs in a thread of its own (see `generatorThread`). */
  readonly generatorThread: boolean;
  /** What the served generator accepts and produces (fingerprint, layout, length, vocabulary). */
  readonly info: GeneratorInfo;
  /** The served version (numbered version folders), else null. */
  readonly version: number | null;
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
   * Loads and warms a model version (the newest, or `version`) beside the served one, without
   * switching: {@link PreparedModel.activate} switches. Used to switch several processes together.
   */
  prepare(options?: { version?: number }): Promise<PreparedModel>;
  /**
   * Serves the newest version (or `version`) if it differs from the served one: loads and warms
   * it, switches atomically (new requests go to it, requests in flight finish on the old one),
   * then releases the old one. A version that fails to load or warm is not switched to: the
   * error is thrown and the served model stays.
   */
  reload(options?: { version?: number }): Promise<ReloadResult>;
  /**
   * Drains and stops: new parameter requests get 503 `shutting_down` with `Connection: close`
   * (also on kept-alive connections), requests in flight finish (up to `shutdownTimeoutMs`, then
   * the rest are dropped), idle connections are closed, the model is released if the server
   * loaded it. Idempotent.
   */
  close(): Promise<void>;
}

/** What `/readyz` reports. */
export type Readiness = 'ready' | 'overloaded' | 'draining' | 'failed';

/** A loaded and warmed model version, not yet served (see {@link ServerHandle.prepare}). */
export interface PreparedModel {
  readonly version: number | null;
  readonly fingerprint: string;
  /** Whether it is what the server serves already (same version and fingerprint). */
  readonly current: boolean;
  /** Switches to it (no-op when {@link PreparedModel.current}). */
  activate(): void;
  /** Releases it without switching. */
  discard(): Promise<void>;
}

/** The outcome of {@link ServerHandle.reload}. */
export interface ReloadResult {
  /** Whether another model is now served. */
  switched: boolean;
  version: number | null;
  fingerprint: string;
}

const ROUTES: Record<string, readonly string[]> = {
  '/v1/parameters': ['POST'],
  '/v1/model': ['GET', 'HEAD'],
  '/healthz': ['GET', 'HEAD'],
  '/readyz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};
const OPEN_ROUTES = new Set(['/healthz', '/readyz']);
/** The answer to an early retry (see RetryHold), once its hold has passed: one shared error. */
const EARLY_RETRY = (() => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // sent as JSON, never logged: no stack to build
  try {
    return new ServeError(503, 'overloaded', `the service is overloaded and this request came ` +
      `sooner than the Retry-After its connection was given: it is refused now that the ` +
      `Retry-After has passed; the next request on the connection is looked at as usual`,
    { retryAfterSeconds: 1 });
  } finally {
    Error.stackTraceLimit = limit;
  }
})();
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
 * - `GET /v1/model`: version, fingerprint, layout, sequence length, accepted request kinds, `ids`
 *   (`'original'` with an item map, else `'internal'`) and `items` (the map's size or null).
 * - `GET /healthz` (liveness, cheap, answered under any load): `{ status: "ok" }` (503
 *   `draining` during shutdown).
 * - `GET /readyz` (readiness): 200 `{ status: "ready" }`; 503 `overloaded` while requests are
 *   being refused for load (and for a second after), 503 `draining` during shutdown.
 * - `GET /metrics`: Prometheus text format.
 *
 * Admission: a request that would wait longer than `maxQueueMs` for the generator, or push the
 * queue past `maxQueue` sequences (those in calls not answered yet included), gets 503
 * `overloaded` with `Retry-After` at once (before its body is read, when the queue is already
 * full). With a generator thread (`generatorThread`, the default for a model folder) the
 * generator's calls run there and the event loop only reads, refuses and answers; on the
 * server's thread, the event loop runs between generator calls, so health checks and refusals
 * are answered within one call's time under any load.
 *
 * Versions: given a directory of numbered version folders, the highest complete one is served;
 * {@link ServerHandle.reload} (or `pollSeconds`) loads and warms a newer one, then switches;
 * requests in flight finish on the old one. Loading refuses a model with non-finite weights
 * (naming the layer) and runs one warm-up call before serving.
 *
 * The body is JSON; `Content-Type` may be missing, `application/json`, `text/plain` or
 * `application/x-www-form-urlencoded` (what `curl -d` sends), anything else gets 415.
 *
 * Every error is `{ "error": { "code", "message" } }` with a 4xx status: malformed JSON, wrong
 * types, unknown ids, empty sequences (400), missing token (401), oversized bodies (413),
 * unknown routes (404), wrong methods (405), overload (503 `overloaded`, `Retry-After`),
 * shutdown (503 `shutting_down`, `Connection: close`); malformed HTTP itself gets a JSON 400
 * and the connection closes.
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
  const maxQueueMs = checkOption(options.maxQueueMs, 'maxQueueMs', 0, 500);
  const maxRetryAfter = checkOption(options.maxRetryAfterSeconds, 'maxRetryAfterSeconds', 1, 4);
  const maxConnections = options.maxConnections === undefined ? Infinity :
    checkOption(options.maxConnections, 'maxConnections', 1, 0);
  if (options.healthPort !== undefined) checkOption(options.healthPort, 'healthPort', 0, 0);
  const pollSeconds = options.pollSeconds ?? 0;
  if (typeof pollSeconds !== 'number' || !(pollSeconds >= 0) || !Number.isFinite(pollSeconds)) {
    throw new Error(`'pollSeconds' passed to 'createServer' must be a number >= 0, got ` +
      `${String(options.pollSeconds)}`);
  }
  if (options.version !== undefined) checkOption(options.version, 'version', 0, 0);
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

  // The metrics are created once the first model is loaded (its fingerprint labels them).
  let metrics!: ServiceMetrics;

  const unknownIds = options.unknownIds ?? 'error';
  if (unknownIds !== 'error' && unknownIds !== 'skip') {
    throw new Error(`'unknownIds' passed to 'createServer' must be 'error' or 'skip', got ` +
      `${JSON.stringify(unknownIds)}`);
  }
  // The item map: given, or each model folder's own items.tsv (versions may differ).
  const givenItems = options.items === undefined ? undefined :
    options.items === null || options.items instanceof IdMap ? options.items : new IdMap(options.items);

  const modelOptions: ServedModelOptions = {
    sequenceLength: options.sequenceLength, vocabSize: options.vocabSize,
    maxBatch: options.maxBatch, maxWaitMs: options.maxWaitMs, maxQueue: options.maxQueue,
    maxQueueMs,
    onBatch: (rows, seconds) => {
      metrics.batchSizes.observe(rows);
      metrics.batchSeconds.observe(seconds);
    },
  };
  const root = typeof options.model === 'string' ? options.model : null;
  const thread = useGeneratorThread(options.generatorThread, { folder: root !== null, backend: tf.getBackend() });
  if (thread) {
    modelOptions.thread = true;
    modelOptions.backend = tf.getBackend();
  }
  const loadFrom = async (version?: number): Promise<ServedModel> => {
    if (root === null) {
      const served = await ServedModel.load({ model: options.model as tfl.LayersModel }, modelOptions);
      served.items = givenItems ?? null;
      return served;
    }
    let source: ModelSource;
    try {
      source = await resolveModelSource(root, version);
    } catch (e) {
      throw new Error(`'createServer': ${(e as Error).message}`);
    }
    const items = givenItems !== undefined ? givenItems : await readItemMap(source.path);
    const served = await ServedModel.load({ source }, modelOptions);
    served.items = items;
    return served;
  };
  // Versions are pinned only when asked: later reloads go to the newest.
  let current = await loadFrom(options.version);
  // A generator thread that dies while it serves: requests get 500 generator_failed (the
  // batcher's calls fail), readiness says 'failed', the owner is told once.
  let failureReported = false;
  const watchFailure = (served: ServedModel) => served.thread?.onFailure((error) => {
    if (served !== current || failureReported || closing !== null) return;
    failureReported = true;
    log(`duet-tf serve: ${error.message}`);
    options.onGeneratorFailure?.(error);
  });
  metrics = await createServiceMetrics({ fingerprint: current.info.fingerprint });
  const { latency, errors, sequences, modelInfo } = metrics;
  const inflightGauge = metrics.inflight;
  const registers = [metrics.registry];
  // Read when scraped. Summed over --workers: queued sequences; the others are not sums.
  new metrics.prom.Gauge({
    name: 'duet_generator_queue_sequences', help: 'Sequences waiting for the generator.',
    registers, collect() { this.set(current.batcher.pending); },
  });
  new metrics.prom.Gauge({
    name: 'duet_generator_queue_wait_estimate_seconds',
    help: 'Expected wait of a new sequence for the generator (admission control).',
    registers, aggregator: 'max', collect() { this.set(current.batcher.estimatedWaitMs / 1000); },
  });
  new metrics.prom.Gauge({
    name: 'duet_ready', help: 'Whether /readyz answers ready (1) or not (0: overloaded, draining).',
    registers, aggregator: 'min', collect() { this.set(readiness() === 'ready' ? 1 : 0); },
  });
  new metrics.prom.Gauge({
    name: 'duet_model_version', help: 'The served model version (-1: an unversioned folder or a model in memory).',
    registers, aggregator: 'max', collect() { this.set(current.version ?? -1); },
  });
  const reloads = new metrics.prom.Counter({
    name: 'duet_model_reloads_total', help: 'Model reloads, by outcome (switched, unchanged, failed).',
    labelNames: ['outcome'], registers,
  });
  const earlyRetries = new metrics.prom.Counter({
    name: 'duet_early_retries_total', help: 'Requests sent sooner than the Retry-After their ' +
      'connection was given: answered 503 once it had passed, never admitted.',
    registers,
  });
  let lastIdentity = root === null ? null : await sourceIdentity(root).catch(() => null);

  let inflight = 0;
  let idleWaiters: Array<() => void> = [];
  let draining = false;
  let server: Server | null = null;
  let listener: LimitedListener | null = null;
  let address: ServerAddress | null = null;
  let closing: Promise<void> | null = null;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let health: HealthThread | null = null;
  const holds = new RetryHold({ maxRetryAfter });
  let healthTimer: ReturnType<typeof setInterval> | null = null;
  watchFailure(current);

  const corsOrigin = (req: IncomingMessage): string | null => {
    const origin = req.headers.origin;
    if (cors === undefined || typeof origin !== 'string') return null;
    return cors.origins === '*' || cors.origins.includes(origin) ? origin : null;
  };

  const send = (res: ServerResponse, status: number, body: string | Uint8Array,
      type: string, headers?: Record<string, string>) => {
    if (res.headersSent || res.destroyed) return;
    // A string goes out as it is: Node writes it with the headers in one write (a byte array
    // would be a second chunk, a writev).
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    // One writeHead: cheaper than a setHeader per field (headers set earlier, e.g. CORS, merge).
    const all: Record<string, string | number> = {
      'Content-Type': type, 'Content-Length': length, 'Cache-Control': 'no-store', ...headers,
    };
    // Draining: every answer closes its connection, kept-alive ones included.
    if (draining) all.Connection = 'close';
    res.writeHead(status, all);
    res.end(body);
  };
  // The bytes of each overload refusal (a shared error) per Retry-After, built once: under a
  // retry storm refusals are most of the service's answers. A flat header list and a string
  // body: writeHead copies nothing, and Node sends headers and body in one write.
  const refusalAnswers = new WeakMap<ServeError, Map<number, { headers: string[]; body: string }>>();
  const sendRefusal = (res: ServerResponse, e: ServeError, retryAfter: number) => {
    if (res.headersSent || res.destroyed) return;
    let byRetry = refusalAnswers.get(e);
    if (byRetry === undefined) refusalAnswers.set(e, byRetry = new Map());
    let answer = byRetry.get(retryAfter);
    if (answer === undefined) {
      const body = JSON.stringify({ error: { code: e.code, message: e.message } });
      answer = { body, headers: ['Content-Type', 'application/json; charset=utf-8',
        'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store',
        'Retry-After', String(retryAfter)] };
      byRetry.set(retryAfter, answer);
    }
    res.writeHead(e.status, answer.headers);
    res.end(answer.body);
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
    metrics.countError(e.code);
    let retryAfter = e.retryAfterSeconds;
    if (e.code === 'overloaded' && retryAfter !== null) {
      // An early retry's refusal holds nothing: the request after it is looked at as usual.
      // Either way the connection's Retry-After grows while it keeps retrying early.
      retryAfter = e === EARLY_RETRY ? holds.retryAfter(res.socket, retryAfter) :
        holds.refused(res.socket, retryAfter);
      if (!draining) {
        sendRefusal(res, e, retryAfter);
        return;
      }
    }
    const headers: Record<string, string> = {};
    if (e.status === 401) headers['WWW-Authenticate'] = 'Bearer';
    if (retryAfter !== null) headers['Retry-After'] = String(retryAfter);
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
    // An early retry (sooner than the Retry-After this connection was given) waits for it and
    // is then refused: admitted, its answer would carry the hold in its latency. The next one
    // on the connection goes through admission as usual.
    const held = holds.wait(req.socket);
    if (held !== null) {
      await held;
      if (!draining) {
        earlyRetries.inc();
        throw EARLY_RETRY;
      }
    }
    if (draining) {
      throw new ServeError(503, 'shutting_down', `the service is shutting down; retry on ` +
        `another instance`, { retryAfterSeconds: 1 });
    }
    // One model for the whole request, even if a reload switches meanwhile.
    const served = current;
    served.begin();
    (res as ModelResponse)[SERVED_BY] = served; // released when the response closes
    const info = served.info;
    // A full queue refuses before the body is read (reading and parsing would cost far more
    // than the refusal), assuming the request is as large as recent ones.
    const early = served.batcher.refusal(Math.max(1, Math.round(served.batcher.typicalRows)));
    if (early !== null) throw early;
    holds.admitted(req.socket);
    const format = formatOf(url, req);
    const type = req.headers['content-type'];
    // The body is read as JSON whatever the type says, among those a JSON body plausibly comes
    // with: form-urlencoded is what `curl -d` sends, text/plain avoids a CORS preflight.
    if (type !== undefined &&
        !/^\s*(application\/json|text\/plain|application\/x-www-form-urlencoded)\s*(;|$)/i.test(type)) {
      throw new ServeError(415, 'unsupported_media_type', `the body must be JSON ` +
        `(Content-Type application/json), got '${type}'`);
    }
    const rows = parseParametersRequest(parseJson(await readBody(req, maxBody)),
      { ...served.limits, maxSequences, items: served.items, unknownIds });
    const values = await served.batcher.submit(rows);
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
    send(res, 200, bytes, 'application/octet-stream', binaryHeaders(served, format));
  };

  // Built once per model: the binary answer's extra headers per format.
  const binaryHeaders = (served: ServedModel, format: PayloadFormat) =>
    (served.headers[format] ??= { [FINGERPRINT_HEADER]: served.info.fingerprint, 'X-Duet-Format': format });

  const readiness = (): Readiness =>
    draining ? 'draining' : current.failure !== null ? 'failed' :
      current.batcher.overloaded ? 'overloaded' : 'ready';

  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse, url: RequestUrl) =>
      void | Promise<void>> = {
    '/v1/parameters': parameters,
    '/v1/model': (_req, res) => {
      const info = current.info;
      const items = current.items;
      sendJson(res, 200, {
        version: current.version, fingerprint: info.fingerprint, layout: info.layout,
        total: info.total, sequenceLength: info.sequenceLength, vocabSize: info.vocabSize,
        embeddingDim: info.embeddingDim, formats: PAYLOAD_FORMATS, payloadVersion: PAYLOAD_VERSION,
        ids: items === null ? 'internal' : 'original', items: items?.size ?? null, unknownIds,
        requests: [
          ...(info.vocabSize !== null ? ['sequence', 'sequences'] : []),
          ...(info.embeddingDim !== null ? ['embeddings', 'embeddingSequences'] : []),
        ],
      });
    },
    '/healthz': (_req, res) => draining || current.failure !== null ?
      sendJson(res, 503, { status: draining ? 'draining' : 'failed', fingerprint: current.info.fingerprint }) :
      sendJson(res, 200, { status: 'ok', fingerprint: current.info.fingerprint }),
    '/readyz': (_req, res) => {
      const status = readiness();
      sendJson(res, status === 'ready' ? 200 : 503, {
        status, version: current.version, fingerprint: current.info.fingerprint,
        queuedSequences: current.batcher.pending, inFlightSequences: current.batcher.inFlight,
        estimatedWaitMs: Math.round(current.batcher.estimatedWaitMs),
      });
    },
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
    const url = requestUrl(req.url ?? '/');
    // Requests refused for shutdown do not hold the drain up.
    const counted = !draining;
    if (counted) inflight++;
    inflightGauge.inc();
    const routeLabel = ROUTES[url.pathname] !== undefined ? url.pathname : 'unmatched';
    // Done once the answer is written ('finish') or the connection went away ('close', which
    // for an answer sent before its request's body, e.g. an early refusal, waits for that body).
    let done = false;
    const onDone = () => {
      if (done) return;
      done = true;
      (res as ModelResponse)[SERVED_BY]?.end();
      if (counted) inflight--;
      inflightGauge.dec();
      metrics.countRequest(routeLabel, ROUTE_METHODS.has(req.method ?? '') ? String(req.method) :
        'other', String(res.statusCode));
      latency.observe({ route: routeLabel }, (performance.now() - began) / 1000);
      if (inflight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        waiters.forEach((w) => w());
      }
    };
    res.once('finish', onDone);
    res.once('close', onDone);
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

  // Switching: new requests take `current` at their start; the old model finishes its own.
  let switching: Promise<unknown> = Promise.resolve();
  const prepare = async ({ version }: { version?: number } = {}): Promise<PreparedModel> => {
    if (closing !== null) throw new Error(`'ServerHandle.prepare': the server is closed`);
    if (root === null) {
      throw new Error(`'ServerHandle.prepare': the server was given a model in memory; there ` +
        `is no folder to load another version from`);
    }
    const next = await loadFrom(version);
    // A served model whose generator thread died is replaced even by the same version.
    const isCurrent = next.version === current.version &&
      next.info.fingerprint === current.info.fingerprint && current.failure === null;
    let done = false;
    return {
      version: next.version,
      fingerprint: next.info.fingerprint,
      current: isCurrent,
      activate() {
        if (done) return;
        done = true;
        if (isCurrent || closing !== null) {
          void next.retire();
          return;
        }
        const old = current;
        current = next;
        failureReported = false;
        watchFailure(next);
        modelInfo.set({ fingerprint: old.info.fingerprint }, 0);
        modelInfo.set({ fingerprint: next.info.fingerprint }, 1);
        log(`duet-tf serve: now serving ${next.version === null ? 'the model' :
          `version ${next.version}`} (generator ${next.info.fingerprint}); the previous ` +
          `${old.version === null ? 'model' : `version ${old.version}`} finishes its requests`);
        void old.retire(shutdownTimeout);
      },
      async discard() {
        if (done) return;
        done = true;
        await next.retire();
      },
    };
  };
  const reload = (request: { version?: number } = {}): Promise<ReloadResult> => {
    // One reload at a time: a second waits for the first, then checks again.
    const run = switching.catch(() => undefined).then(async () => {
      let prepared: PreparedModel;
      try {
        prepared = await prepare(request);
      } catch (e) {
        reloads.inc({ outcome: 'failed' });
        throw e;
      }
      const switched = !prepared.current;
      reloads.inc({ outcome: switched ? 'switched' : 'unchanged' });
      prepared.activate();
      if (root !== null) lastIdentity = await sourceIdentity(root).catch(() => null);
      return { switched, version: prepared.version, fingerprint: prepared.fingerprint };
    });
    switching = run;
    return run;
  };

  if (root !== null && pollSeconds > 0) {
    let failedIdentity: string | null = null;
    pollTimer = setInterval(() => {
      void (async () => {
        let identity: string;
        try {
          identity = await sourceIdentity(root);
        } catch {
          return; // nothing servable right now: keep serving what is loaded
        }
        if (identity === lastIdentity || identity === failedIdentity || closing !== null) return;
        try {
          await reload();
        } catch (e) {
          failedIdentity = identity; // reported once, not every poll
          log(`duet-tf serve: not switching: ${(e as Error).message}`);
        }
      })();
    }, pollSeconds * 1000);
    pollTimer.unref?.();
  }

  const startHealth = async (host: string) => {
    if (options.healthPort === undefined) return;
    health = await startHealthThread(options.healthPort, host);
    health.update(readiness(), current.version);
    // Each turn of the event loop that runs this timer counts as alive.
    healthTimer = setInterval(() => health?.update(readiness(), current.version), 100);
    healthTimer.unref?.();
  };

  const handle: ServerHandle = {
    get info() {
      return current.info;
    },
    get version() {
      return current.version;
    },
    handler,
    get address() {
      return address;
    },
    get healthUrl() {
      return health?.url ?? null;
    },
    readiness: () => readiness(),
    get generatorThread() {
      return current.thread !== null;
    },
    metrics: () => metrics.text(),
    get metricsRegistry() {
      return metrics;
    },
    prepare,
    reload,
    async listen(port = options.port ?? 8080, host = options.host ?? '127.0.0.1') {
      if (server !== null) {
        throw new Error(`'ServerHandle.listen': the server is already listening`);
      }
      if (closing !== null) {
        throw new Error(`'ServerHandle.listen': the server is closed`);
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
      const l = await limitedListener(s, maxConnections, () => errors.inc({ code: 'overloaded' }));
      server = s;
      listener = l;
      return new Promise<ServerAddress>((resolve, reject) => {
        l.once('error', reject);
        l.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          l.off('error', reject);
          l.on('error', (e) => log(`duet-tf serve: server error: ${e.message}`));
          const a = l.address();
          const actualPort = typeof a === 'object' && a !== null ? a.port : port;
          const urlHost = host.includes(':') ? `[${host}]` : host;
          address = { host, port: actualPort, url: `http://${urlHost}:${actualPort}` };
          void startHealth(host).then(() => {
            log(`duet-tf serve: listening on ${address!.url} (${current.version === null ? '' :
              `version ${current.version}, `}generator ${current.info.fingerprint}, ` +
              `${current.info.total} parameters per user${current.thread === null ? '' :
              ', generator thread'})${health === null ? '' :
              `; health checks also on ${health.url}`}`);
            resolve(address!);
          }, (error: Error) => {
            // The health port is part of the service: without it, nothing listens.
            l.close();
            server = null;
            listener = null;
            address = null;
            reject(error);
          });
        });
      });
    },
    close() {
      closing ??= (async () => {
        draining = true;
        holds.releaseAll();
        health?.update('draining', current.version);
        if (pollTimer !== null) clearInterval(pollTimer);
        const s = server;
        const l = listener;
        // No new connections; kept-alive ones stay open for now, so a request arriving on one
        // gets a 503 `shutting_down` (and its connection closes) rather than a reset.
        const stopped = l === null ? Promise.resolve() :
          new Promise<void>((resolve) => l.close(() => resolve()));
        const deadline = performance.now() + shutdownTimeout;
        await switching.catch(() => undefined);
        // Queued rows run now, without waiting for their batching delay.
        void current.batcher.drain();
        await waitIdle(Math.max(0, deadline - performance.now()));
        await current.retire(Math.max(0, deadline - performance.now()));
        if (s !== null) {
          // Connections still open are idle or hold refused requests: give clients that are
          // about to reuse one a moment to see its 503 and close it, then close the rest.
          const grace = Math.min(DRAIN_GRACE_MS, Math.max(0, deadline - performance.now()));
          const end = performance.now() + grace;
          while (performance.now() < end && l !== null && l.openConnections() > 0) {
            s.closeIdleConnections?.();
            await new Promise((r) => setTimeout(r, 20));
          }
          s.closeAllConnections?.();
          // Those http does not count as its own (e.g. an answered request whose body never came).
          l?.destroyConnections();
        }
        await stopped;
        if (healthTimer !== null) clearInterval(healthTimer);
        await health?.close();
        address = null;
      })();
      return closing;
    },
  };
  return handle;
}

/** The model a parameters request uses, set on its response. */
const SERVED_BY = Symbol('servedBy');
type ModelResponse = ServerResponse & { [SERVED_BY]?: ServedModel };

/**
 * Connections the kernel may hold for `accept` (capped by net.core.somaxconn). Node's default,
 * 511, is less than a burst of clients connecting at once: the handshakes past it are dropped
 * and retried by TCP after 1, 3, 7, 15 s, so those clients wait seconds before a first answer.
 */
const LISTEN_BACKLOG = 4096;

/** How long, at most, a drain waits after its last request for kept-alive clients, in ms. */
const DRAIN_GRACE_MS = 500;

const ROUTE_METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']);
