/**
 * One request for parameters from the device to the service, with a timeout, turning every
 * failure into a machine-readable reason.
 */
import { decodePayload, PayloadFormat, payloadByteLength, PayloadLayer } from '../serve/payload';
import { sameLayout } from './device_layout';

/** Why the device is not using fresh parameters from the service. */
export type FallbackReason =
  /** The service could not be reached (network error, refused connection, DNS). */
  | 'unreachable'
  /** The service did not answer within `timeoutMs`. */
  | 'timeout'
  /** The payload came from another generator than the device model's. */
  | 'fingerprint'
  /** The service answered with an HTTP error status. */
  | 'http'
  /** The answer was not a valid payload for this model (corrupt, wrong layout or size). */
  | 'payload'
  /** The user has no behaviour yet, so there is nothing to personalise on. */
  | 'no-history';

/** A readable byte stream, as `Response.body` is in browsers and Node. */
export interface ByteStreamLike {
  getReader(): {
    read(): Promise<{ done: boolean; value?: Uint8Array }>;
    cancel(reason?: unknown): Promise<void>;
  };
}

/**
 * What the runtime reads of an answer: a `Response` fits. `headers` and `body` are optional for
 * hand-written fetches; without `body` the answer is read whole (after checking
 * `Content-Length` when there are headers), so the size cap holds only once it has arrived.
 */
export interface FetchResponseLike {
  ok: boolean;
  status: number;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  /** Response headers (`Content-Length` is checked against the cap before reading). */
  headers?: { get(name: string): string | null };
  /** The body as a stream: read chunk by chunk and abandoned once past the cap. */
  body?: ByteStreamLike | null;
}

/** The `fetch` function the runtime calls (the global one by default; injectable for tests). */
export type FetchLike = (url: string, init: {
  method: string; headers: Record<string, string>; body: string; signal: AbortSignal;
}) => Promise<FetchResponseLike>;

/** What a parameter request needs. */
export interface ParameterRequest {
  fetch: FetchLike;
  /** Full URL of `POST /v1/parameters` including `?format=`. */
  url: string;
  body: unknown;
  token?: string;
  timeoutMs: number;
  fingerprint: string;
  layout: readonly PayloadLayer[];
  /**
   * Most bytes of an answer to read, e.g. the payload size of the requested format
   * (`payloadByteLength(layout, { format })`, what the runtime passes). A longer answer is
   * abandoned unread. Default: the f32 payload size of `layout`, the largest format's.
   */
  maxBytes?: number;
}

/** The outcome of a parameter request. */
export type ParameterResponse =
  | { ok: true; values: Float32Array; /** Bytes of the answer. */ bytes: number }
  | { ok: false; reason: FallbackReason; message: string };

/**
 * The request URL for a service base URL and a payload format.
 *
 * @example
 * ```ts
 * parametersUrl('https://duet.example/', 'f16'); // 'https://duet.example/v1/parameters?format=f16'
 * ```
 */
export function parametersUrl(serviceUrl: string, format: PayloadFormat): string {
  return `${serviceUrl.replace(/\/+$/, '')}/v1/parameters?format=${format}`;
}

/**
 * Posts the behaviour and checks the payload against the expected fingerprint and layout.
 * Never throws: failures come back as `{ ok: false, reason, message }`.
 *
 * @example
 * ```ts
 * const r = await requestParameters({ fetch, url: parametersUrl(base, 'f16'),
 *   body: { sequence: [3, 9] }, timeoutMs: 500, fingerprint, layout });
 * if (!r.ok) console.log(r.reason, r.message);
 * ```
 */
export async function requestParameters(request: ParameterRequest): Promise<ParameterResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, request.timeoutMs);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json', Accept: 'application/octet-stream',
  };
  if (request.token !== undefined) headers.Authorization = `Bearer ${request.token}`;
  const maxBytes = request.maxBytes ?? payloadByteLength(request.layout, { format: 'f32' });
  let bytes: Uint8Array;
  try {
    let response: FetchResponseLike;
    try {
      // Called as a plain function: browsers refuse a fetch called as another object's method.
      const fetch = request.fetch;
      response = await fetch(request.url, {
        method: 'POST', headers, body: JSON.stringify(request.body), signal: controller.signal,
      });
    } catch (e) {
      return timedOut ? { ok: false, reason: 'timeout', message: `no answer within ${request.timeoutMs} ms` } :
        { ok: false, reason: 'unreachable', message: `cannot reach ${request.url}: ${(e as Error)?.message ?? String(e)}` };
    }
    if (!response.ok) {
      let detail = '';
      try {
        // An error answer is read only as far as the message shown needs.
        const head = await readCapped(response, ERROR_TEXT_BYTES, controller, true);
        detail = new TextDecoder().decode(head.bytes).slice(0, 300);
      } catch {
        // The status alone says enough.
      }
      return { ok: false, reason: timedOut ? 'timeout' : 'http',
        message: `the service answered ${response.status}${detail ? `: ${detail}` : ''}` };
    }
    try {
      const read = await readCapped(response, maxBytes, controller, false);
      if (read.tooLarge !== null) {
        return { ok: false, reason: 'payload', message: `the answer is ${read.tooLarge}; a ` +
          `payload for this model is at most ${maxBytes} bytes, so it was not read` };
      }
      bytes = read.bytes;
    } catch (e) {
      return timedOut ? { ok: false, reason: 'timeout', message: `no full answer within ${request.timeoutMs} ms` } :
        { ok: false, reason: 'unreachable', message: `the answer broke off: ${(e as Error)?.message ?? String(e)}` };
    }
  } finally {
    clearTimeout(timer);
  }
  let payload;
  try {
    payload = decodePayload(bytes);
  } catch (e) {
    return { ok: false, reason: 'payload', message: (e as Error).message };
  }
  if (payload.fingerprint !== request.fingerprint) {
    return { ok: false, reason: 'fingerprint', message: `the parameters come from generator ` +
      `${payload.fingerprint}, this device model belongs to ${request.fingerprint}` };
  }
  if (payload.batch !== 1 || !sameLayout(payload.layers, request.layout)) {
    return { ok: false, reason: 'payload', message: `the payload holds ${payload.batch} ` +
      `vector(s) for layers ${payload.layers.map((l) => `${l.name} ${l.inputDim}x${l.outputDim}`).join(', ')}; ` +
      `expected one vector for ${request.layout.map((l) => `${l.name} ${l.inputDim}x${l.outputDim}`).join(', ')}` };
  }
  return { ok: true, values: payload.values, bytes: bytes.length };
}

/** Bytes of an error answer read for its message. */
const ERROR_TEXT_BYTES = 1024;

/**
 * Reads at most `max` bytes of the answer: refused up front when `Content-Length` says more,
 * streamed chunk by chunk when there is a body stream (and abandoned, the request aborted, once
 * past `max`), else read whole and measured. With `truncate`, the first `max` bytes are kept
 * instead of refusing.
 */
async function readCapped(response: FetchResponseLike, max: number, controller: AbortController,
    truncate: boolean): Promise<{ bytes: Uint8Array; tooLarge: string | null }> {
  const declared = Number(response.headers?.get('content-length') ?? NaN);
  if (!truncate && Number.isFinite(declared) && declared > max) {
    controller.abort();
    return { bytes: new Uint8Array(0), tooLarge: `${declared} bytes (Content-Length)` };
  }
  const stream = response.body;
  if (stream === undefined || stream === null || typeof stream.getReader !== 'function') {
    if (Number.isFinite(declared) && declared > max) return { bytes: new Uint8Array(0), tooLarge: null };
    const whole = new Uint8Array(truncate ? new TextEncoder().encode(await response.text()) :
      await response.arrayBuffer());
    if (whole.length <= max) return { bytes: whole, tooLarge: null };
    return truncate ? { bytes: whole.subarray(0, max), tooLarge: null } :
      { bytes: new Uint8Array(0), tooLarge: `${whole.length} bytes` };
  }
  const reader = stream.getReader();
  const out = new Uint8Array(max);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done || value === undefined) break;
    if (size + value.length > max) {
      out.set(value.subarray(0, max - size), size);
      size = max;
      // Past the cap: stop the transfer rather than buffer what is left.
      void reader.cancel().catch(() => undefined);
      controller.abort();
      if (truncate) break;
      return { bytes: new Uint8Array(0), tooLarge: `over ${max} bytes` };
    }
    out.set(value, size);
    size += value.length;
  }
  return { bytes: out.subarray(0, size), tooLarge: null };
}
