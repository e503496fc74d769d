/**
 * Letting timers and abort handlers run during long synchronous work. Browser-safe. Internal.
 */

type Immediate = (callback: () => void) => unknown;

/** Resolves on the next turn of the event loop (setImmediate in Node, a 0 ms timer elsewhere). */
export function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  return new Promise((resolve) => {
    if (typeof immediate === 'function') immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** Yields to the event loop at most every `everyMs` of work, so yielding costs almost nothing. */
export class Yielder {
  private last = performance.now();

  constructor(private readonly everyMs = 50) {}

  async maybeYield(): Promise<void> {
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    await nextTurn();
    this.last = performance.now();
  }
}
