/**
 * `RetryHold`: holds a client to the `Retry-After` it was given. After a 503 `overloaded` on a
 * connection, the next request on that connection is not looked at before the `Retry-After` has
 * passed. A client that honours `Retry-After` never notices; one that retries at once (a retry
 * storm) gets its answer no sooner than if it had waited, and costs the service one refusal per
 * connection per `Retry-After` instead of as many as its event loop can parse. That keeps the
 * event loop's turns short under a storm, and so the admitted requests' latency and the
 * generator's throughput.
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
 * await holds.wait(socket);          // the next request on it: resolves a second later
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
   * Resolves when a request on `connection` may be handled: at once (null) unless the
   * connection's last refusal asked for a later retry.
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
