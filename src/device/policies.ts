/**
 * Request policies: when a device asks the service for new parameters. Each request costs the
 * device a round trip; DUET's follow-up work keeps most of the gain with ~10% of the requests by
 * asking only when behaviour has moved.
 */
import { BehaviourSummary, cosineDistance, hashedBag } from './summaries';

/** What a policy sees for one user. */
export interface PolicyContext {
  /** The user's recent item ids, oldest first. */
  history: readonly number[];
  /** Interactions observed since the last successful request. */
  newInteractions: number;
  /** The history as it was at the last successful request. */
  historyAtRequest: readonly number[];
}

/**
 * Decides whether to ask for new parameters. Consulted only while the user has valid cached
 * parameters: without them (first use, or the cache expired) the runtime always asks.
 */
export interface RequestPolicy {
  /** A short name for reports, e.g. `'everyN(5)'`. */
  readonly name: string;
  /** Whether to request now. */
  shouldRequest(context: PolicyContext): boolean;
}

/**
 * Ask on every call (the paper's setting: parameters always match the latest behaviour).
 *
 * @example
 * ```ts
 * const runtime = await createDeviceRuntime({ model, serviceUrl, policy: always() });
 * ```
 */
export function always(): RequestPolicy {
  return { name: 'always', shouldRequest: () => true };
}

/**
 * Ask once `n` new interactions have been observed since the last request.
 *
 * @example
 * ```ts
 * const policy = everyN(5); // one request per five clicks
 * ```
 */
export function everyN(n: number): RequestPolicy {
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`'n' passed to 'everyN' must be a positive integer, got ${String(n)}`);
  }
  return { name: `everyN(${n})`, shouldRequest: (c) => c.newInteractions >= n };
}

/** Options of {@link drift}. */
export interface DriftOptions {
  /** How the recent window is summarised. Default `hashedBag(64)`. */
  summary?: BehaviourSummary;
  /** How many of the most recent items form the window. Default 10. */
  window?: number;
}

/**
 * Ask when the summary of the recent window has moved more than `threshold` (cosine distance,
 * 0..2) from the window at the last request.
 *
 * @example
 * ```ts
 * const policy = drift(0.3, { summary: embeddingMean(itemTable), window: 10 });
 * ```
 */
export function drift(threshold: number, options: DriftOptions = {}): RequestPolicy {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) {
    throw new Error(`'threshold' passed to 'drift' must be a non-negative number, got ` +
      `${String(threshold)}`);
  }
  const window = options.window ?? 10;
  if (!Number.isInteger(window) || window <= 0) {
    throw new Error(`'window' passed to 'drift' must be a positive integer, got ${String(window)}`);
  }
  const summary = options.summary ?? hashedBag(64);
  return {
    name: `drift(${threshold})`,
    shouldRequest: (c) => c.newInteractions > 0 && cosineDistance(
      summary(c.history.slice(-window)), summary(c.historyAtRequest.slice(-window))) > threshold,
  };
}
