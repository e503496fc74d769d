/**
 * One request for parameters from the device to the service, with a timeout, turning every
 * failure into a machine-readable reason.
 */
import { decodePayload, PayloadFormat, PayloadLayer } from '../serve/payload';
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

/** The `fetch` function the runtime calls (the global one by default; injectable for tests). */
export type FetchLike = (url: string, init: {
  method: string; headers: Record<string, string>; body: string; signal: AbortSignal;
}) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> }>;

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
}

/** The outcome of a parameter request. */
export type ParameterResponse =
  | { ok: true; values: Float32Array }
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
  let bytes: ArrayBuffer;
  try {
    let response;
    try {
      response = await request.fetch(request.url, {
        method: 'POST', headers, body: JSON.stringify(request.body), signal: controller.signal,
      });
    } catch (e) {
      return timedOut ? { ok: false, reason: 'timeout', message: `no answer within ${request.timeoutMs} ms` } :
        { ok: false, reason: 'unreachable', message: `cannot reach ${request.url}: ${(e as Error)?.message ?? String(e)}` };
    }
    if (!response.ok) {
      let detail = '';
      try {
        detail = (await response.text()).slice(0, 300);
      } catch {
        // The status alone says enough.
      }
      return { ok: false, reason: timedOut ? 'timeout' : 'http',
        message: `the service answered ${response.status}${detail ? `: ${detail}` : ''}` };
    }
    try {
      bytes = await response.arrayBuffer();
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
  return { ok: true, values: payload.values };
}
