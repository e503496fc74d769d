/**
 * `QueueAdmission`: whether the generator's queue takes more sequences. Two bounds: a count
 * (`maxQueue` sequences waiting) that caps memory, and a time (`maxQueueMs`) that caps how long
 * an admitted request can expect to wait for its rows to be generated, estimated from the
 * sequences queued (its own included) and the measured time per sequence in full calls (for a
 * call that followed another at once, the time since that one ended: the pace a queue drains
 * at, as `MicroBatcher` reports it); the time bound applies once the queue holds more than one
 * call's worth. A refusal is a 503 `overloaded` with `Retry-After`, answered at once: refusing
 * is cheap, queueing work the client will have given up on is not.
 */
import { ServeError } from './serve_error';

/** Options of {@link QueueAdmission}. */
export interface QueueAdmissionOptions {
  /** Most sequences waiting. Required. */
  maxQueue: number;
  /** Longest expected wait for the generator, in ms; Infinity for none. Required. */
  maxQueueMs: number;
  /** Sequences per generator call (the estimate counts calls of this size). Required. */
  maxBatch: number;
}

/** How long after a refusal the queue still counts as overloaded (readiness), in ms. */
const OVERLOAD_MEMORY_MS = 1000;

/**
 * Admission decisions for one generator queue.
 *
 * @example
 * ```ts
 * const admission = new QueueAdmission({ maxQueue: 4096, maxQueueMs: 500, maxBatch: 64 });
 * admission.observeBatch(64, 0.005);            // a call of 64 sequences took 5 ms
 * admission.refusal(queued, 256);               // null, or the 503 to answer
 * ```
 */
export class QueueAdmission {
  /** Seconds per sequence in full-size calls (moving average), or null before any call. */
  private secondsPerRow: number | null = null;
  private lastRefusal = -Infinity;
  private readonly refusals = new Map<string, ServeError>();

  constructor(readonly options: QueueAdmissionOptions) {}

  /**
   * Records a generator call of `rows` rows, for the wait estimate: `seconds` is how long the
   * call took, or, for a call that followed another at once, the time since that one ended (the
   * event-loop turn between them included). Calls of fewer than a quarter of `maxBatch`
   * rows are left out: their fixed overhead makes each row look dearer than in the full calls
   * a long queue runs (a lightly loaded service would otherwise overestimate its waits).
   */
  observeBatch(rows: number, seconds: number): void {
    if (!(seconds >= 0) || rows <= 0) return;
    const share = Math.min(1, rows / this.options.maxBatch);
    if (share < 0.25 && this.secondsPerRow !== null) return;
    const perRow = seconds / rows;
    this.secondsPerRow = this.secondsPerRow === null ? perRow :
      this.secondsPerRow + 0.2 * share * (perRow - this.secondsPerRow);
  }

  /** Expected time in ms to run `queued` waiting sequences and `rows` more (0 before any call). */
  estimatedWaitMs(queued: number, rows: number): number {
    if (this.secondsPerRow === null) return 0;
    return (queued + rows) * this.secondsPerRow * 1000;
  }

  /**
   * The 503 to answer when `rows` more sequences behind `queued` would break a bound, else null.
   * A refusal is remembered for {@link QueueAdmission.overloaded}.
   */
  refusal(queued: number, rows: number, now = Date.now()): ServeError | null {
    const { maxQueue, maxQueueMs } = this.options;
    let kind: 'count' | 'time' | null = null;
    if (queued + rows > maxQueue) kind = 'count';
    else if (queued + rows > this.options.maxBatch) {
      // What fits in the next call always goes: the time bound is for queues longer than one
      // call (a noisy estimate must not refuse a lightly loaded service).
      if (this.estimatedWaitMs(queued, rows) > maxQueueMs) kind = 'time';
    }
    if (kind === null) return null;
    this.lastRefusal = now;
    // The time the queue needs to drain, in whole seconds (what Retry-After carries).
    const drainSeconds = this.estimatedWaitMs(queued, 0) / 1000;
    return this.refusalError(kind, Math.min(30, Math.max(1, Math.ceil(drainSeconds))));
  }

  /**
   * One shared error per bound and `Retry-After` (at most 60): under a retry storm refusals are
   * most of the service's work, so they build nothing (the server also caches their bytes). The
   * message is fixed; `GET /readyz` shows the queue (sequences waiting, expected wait).
   */
  private refusalError(kind: 'count' | 'time', retryAfterSeconds: number): ServeError {
    const key = `${kind}${retryAfterSeconds}`;
    let error = this.refusals.get(key);
    if (error === undefined) {
      const reason = kind === 'count' ?
        `more than ${this.options.maxQueue} sequences would be waiting for the generator (limit ${this.options.maxQueue})` :
        `the sequences waiting for the generator are more than ${this.options.maxQueueMs} ms of work (limit ` +
        `${this.options.maxQueueMs} ms)`;
      // No stack trace: sent as JSON, never logged.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        error = new ServeError(503, 'overloaded', `the service is overloaded: ${reason}; retry ` +
          `after the Retry-After (GET /readyz shows the queue)`, { retryAfterSeconds });
      } finally {
        Error.stackTraceLimit = limit;
      }
      this.refusals.set(key, error);
    }
    return error;
  }

  /** Whether a request was refused within the last second. */
  overloaded(now = Date.now()): boolean {
    return now - this.lastRefusal < OVERLOAD_MEMORY_MS;
  }
}
