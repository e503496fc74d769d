/**
 * `RetryHold`: holds a client to the `Retry-After` it was given. After a 503 `overloaded` on a
 * connection, the next request on that connection, if it comes before the `Retry-After` has
 * passed (an early retry), is answered only once it has passed, and then with a 503 of its own:
 * it is never admitted, since its answer would carry the hold in its latency. The request after
 * that is handled as any other (admitted, or refused and held again), so a client that ignores
 * `Retry-After` gets a chance once per `Retry-After` and is not refused forever.
 *
 * A client that honours `Retry-After` never notices. One that retries at once (a retry storm)
 * costs the service at most two refusals per connection per `Retry-After` instead of as many as
 * its event loop can parse, and a held request costs nothing while it waits (its body is not
 * read). That keeps the event loop's turns short under a storm, and so the admitted requests'
 * latency and the generator's throughput.
 *
 * A held request is let go at a random moment up to half a `Retry-After` after it has passed
 * (`jitter`). Without it a storm stays in step: clients refused together were let go together,
 * a second later, and so refused together again; in the overload bench one event-loop turn then
 * took up to 1,000 requests at once (50-180 ms), and the admitted requests waited for it.
 *
 * A connection that keeps retrying early is given a longer `Retry-After` each time it is refused
 * (`maxRetryAfter`): doubled per early retry in a row (1, 2, 4 s with the default cap of 4 s),
 * so a storm costs fewer refusals per second the longer it lasts. It starts again from the
 * service's own `Retry-After` once the connection honours one, is admitted, or has not been
 * refused for twice the cap.
 */

/** Options of {@link RetryHold}. */
export interface RetryHoldOptions {
  /**
   * How much later than its `Retry-After` a held request may be let go, as a fraction of the
   * `Retry-After` (drawn uniformly): spreads out clients that were refused together. Default 0.5.
   */
  jitter?: number;
  /** Uniform numbers in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * The longest `Retry-After` in seconds a connection that keeps retrying early is given: each
   * early retry in a row doubles the service's own value up to it (never below the service's
   * value). 1 (or less): no growth. Default 4.
   */
  maxRetryAfter?: number;
}

interface Entry {
  until: number;
  retryMs: number;
}

interface Strikes {
  /** Early retries in a row. */
  count: number;
  /** When the connection was last refused (ms). */
  at: number;
}

interface Held {
  timer: ReturnType<typeof setTimeout>;
  release(): void;
}

/**
 * Per-connection holds after refusals.
 *
 * @example
 * ```ts
 * const holds = new RetryHold();
 * holds.refused(socket, 1);          // 1: send a 503 with Retry-After: 1 on `socket`
 * const early = holds.wait(socket);  // the next request on it, sent at once: a promise
 * await early;                       // 1 to 1.5 s later: answer that request with a 503
 * holds.wait(socket);                // null: the request after it is handled as usual
 * holds.refused(socket, 1);          // 2: it retried early, so it is told to wait longer
 * holds.admitted(socket);            // served: back to the service's own Retry-After
 * holds.releaseAll();                // shutting down: nobody waits any more
 * ```
 */
export class RetryHold {
  private readonly until = new WeakMap<object, Entry>();
  private readonly strikes = new WeakMap<object, Strikes>();
  private readonly held = new Set<Held>();
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly maxRetryAfter: number;

  constructor(options: RetryHoldOptions = {}) {
    const jitter = options.jitter ?? 0.5;
    if (typeof jitter !== 'number' || !(jitter >= 0) || !Number.isFinite(jitter)) {
      throw new Error(`'jitter' passed to 'RetryHold' must be a finite number >= 0, got ` +
        `${String(options.jitter)}`);
    }
    this.jitter = jitter;
    this.random = options.random ?? Math.random;
    const max = options.maxRetryAfter ?? 4;
    if (typeof max !== 'number' || !(max > 0) || !Number.isFinite(max)) {
      throw new Error(`'maxRetryAfter' passed to 'RetryHold' must be a finite number > 0, got ` +
        `${String(options.maxRetryAfter)}`);
    }
    this.maxRetryAfter = max;
  }

  /**
   * The `Retry-After` in seconds to send on `connection` with a refusal whose own value is
   * `retryAfterSeconds`: that value, doubled per early retry in a row on the connection, at most
   * `maxRetryAfter` (and never below `retryAfterSeconds`).
   */
  retryAfter(connection: object | null | undefined, retryAfterSeconds: number, now = Date.now()): number {
    if (connection == null) return retryAfterSeconds;
    const strikes = this.strikes.get(connection);
    if (strikes === undefined || strikes.count === 0) return retryAfterSeconds;
    // A connection left alone for a while starts again.
    if (now - strikes.at > 2000 * this.maxRetryAfter) {
      this.strikes.delete(connection);
      return retryAfterSeconds;
    }
    return Math.max(retryAfterSeconds,
      Math.min(this.maxRetryAfter, retryAfterSeconds * 2 ** Math.min(strikes.count, 30)));
  }

  /**
   * Records a 503 refusal on `connection` whose own `Retry-After` is `retryAfterSeconds`; returns
   * the `Retry-After` to send (see {@link RetryHold.retryAfter}), which the next request on the
   * connection is held to.
   */
  refused(connection: object | null | undefined, retryAfterSeconds: number, now = Date.now()): number {
    if (connection == null || !(retryAfterSeconds > 0)) return retryAfterSeconds;
    const seconds = this.retryAfter(connection, retryAfterSeconds, now);
    this.until.set(connection, { until: now + seconds * 1000, retryMs: seconds * 1000 });
    const strikes = this.strikes.get(connection);
    if (strikes !== undefined) strikes.at = now;
    return seconds;
  }

  /** A request on `connection` was admitted: its next refusal carries the service's own `Retry-After`. */
  admitted(connection: object | null | undefined): void {
    if (connection != null) this.strikes.delete(connection);
  }

  /**
   * Null when a request on `connection` may be handled now; else (an early retry: the
   * connection's last refusal asked for a later one) a promise that resolves once the
   * `Retry-After` has passed (plus the jitter), when the request is to be refused. Either way the refusal's hold is
   * spent: the next request is not held unless refused again.
   */
  wait(connection: object | null | undefined, now = Date.now()): Promise<void> | null {
    if (connection == null) return null;
    const refusal = this.until.get(connection);
    if (refusal === undefined) return null;
    this.until.delete(connection);
    // Early or not by the Retry-After itself: a client that honours it is never held.
    if (refusal.until <= now) {
      this.strikes.delete(connection);
      return null;
    }
    const strikes = this.strikes.get(connection);
    if (strikes === undefined) this.strikes.set(connection, { count: 1, at: now });
    else {
      strikes.count++;
      strikes.at = now;
    }
    const delay = refusal.until - now + this.jitter * refusal.retryMs * this.random();
    return new Promise<void>((resolve) => {
      const entry: Held = {
        timer: setTimeout(() => entry.release(), delay),
        release: () => {
          clearTimeout(entry.timer);
          this.held.delete(entry);
          resolve();
        },
      };
      this.held.add(entry);
    });
  }

  /** Requests held now. */
  get size(): number {
    return this.held.size;
  }

  /** Lets every held request go now (shutdown: they get their 503 `shutting_down` at once). */
  releaseAll(): void {
    for (const entry of [...this.held]) entry.release();
  }
}
