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
 */

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
 * holds.refused(socket, 1);          // a 503 with Retry-After: 1 went out on `socket`
 * const early = holds.wait(socket);  // the next request on it, sent at once: a promise
 * await early;                       // a second later: answer that request with a 503
 * holds.wait(socket);                // null: the request after it is handled as usual
 * holds.releaseAll();                // shutting down: nobody waits any more
 * ```
 */
export class RetryHold {
  private readonly until = new WeakMap<object, number>();
  private readonly held = new Set<Held>();

  /** Records a refusal with `Retry-After: retryAfterSeconds` on `connection`. */
  refused(connection: object | null | undefined, retryAfterSeconds: number, now = Date.now()): void {
    if (connection == null || !(retryAfterSeconds > 0)) return;
    this.until.set(connection, now + retryAfterSeconds * 1000);
  }

  /**
   * Null when a request on `connection` may be handled now; else (an early retry: the
   * connection's last refusal asked for a later one) a promise that resolves once the
   * `Retry-After` has passed, when the request is to be refused. Either way the refusal's hold is
   * spent: the next request is not held unless refused again.
   */
  wait(connection: object | null | undefined, now = Date.now()): Promise<void> | null {
    if (connection == null) return null;
    const until = this.until.get(connection);
    if (until === undefined) return null;
    this.until.delete(connection);
    if (until <= now) return null;
    return new Promise<void>((resolve) => {
      const entry: Held = {
        timer: setTimeout(() => entry.release(), until - now),
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
