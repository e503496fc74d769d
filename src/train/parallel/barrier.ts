/**
 * A reusable barrier for threads sharing memory: every party arrives, the last one releases them
 * all. Worker threads wait blocking (`Atomics.wait`); the main thread waits without blocking its
 * event loop (`Atomics.waitAsync`), so it still sees worker errors and abort signals. A failure
 * flag wakes everyone so that no thread waits forever for one that died.
 */

/** Int32 slots of the barrier's state. */
const ARRIVED = 0;
const GENERATION = 1;
const FAILED = 2;

/**
 * Int32 words the barrier needs in a shared buffer.
 *
 * @example
 * ```ts
 * const barrier = new SharedBarrier(new Int32Array(new SharedArrayBuffer(4 * BARRIER_WORDS)), 2);
 * ```
 */
export const BARRIER_WORDS = 3;

/** `Atomics.waitAsync` (Node 16+, ES2024; not in this project's `lib`). */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}

/** Thrown by a wait when another party marked the barrier failed. */
export class BarrierFailed extends Error {
  constructor() {
    super('another training thread failed');
    this.name = 'BarrierFailed';
  }
}

/**
 * A barrier for `parties` threads over `state` (at least {@link BARRIER_WORDS} Int32 words of a
 * SharedArrayBuffer, zeroed). Each thread builds its own `SharedBarrier` over the same memory.
 *
 * @example
 * ```ts
 * const barrier = new SharedBarrier(state, 2);
 * barrier.arriveAndWait();          // in a worker
 * await barrier.arriveAndWaitAsync(); // on the main thread
 * ```
 */
export class SharedBarrier {
  constructor(private readonly state: Int32Array, private readonly parties: number) {
    if (!(state.buffer instanceof SharedArrayBuffer) || state.length < BARRIER_WORDS) {
      throw new Error(`'state' passed to 'SharedBarrier' must be ${BARRIER_WORDS} Int32 words of a SharedArrayBuffer`);
    }
  }

  /** Whether a party marked the barrier failed. */
  get failed(): boolean {
    return Atomics.load(this.state, FAILED) !== 0;
  }

  /** Marks the barrier failed and wakes every waiting party (each then throws `BarrierFailed`). */
  fail(): void {
    Atomics.store(this.state, FAILED, 1);
    Atomics.add(this.state, GENERATION, 1);
    Atomics.notify(this.state, GENERATION);
  }

  /** Arrives; returns the generation to wait on, or null when this party released the others. */
  private arrive(): number | null {
    if (this.failed) throw new BarrierFailed();
    const generation = Atomics.load(this.state, GENERATION);
    if (Atomics.add(this.state, ARRIVED, 1) === this.parties - 1) {
      Atomics.store(this.state, ARRIVED, 0);
      Atomics.add(this.state, GENERATION, 1);
      Atomics.notify(this.state, GENERATION);
      return null;
    }
    return generation;
  }

  /** Arrives and blocks until every party has arrived (worker threads only). */
  arriveAndWait(): void {
    const generation = this.arrive();
    if (generation !== null) {
      while (Atomics.load(this.state, GENERATION) === generation) {
        Atomics.wait(this.state, GENERATION, generation);
      }
    }
    if (this.failed) throw new BarrierFailed();
  }

  /** Arrives and resolves when every party has arrived, leaving the event loop free. */
  async arriveAndWaitAsync(): Promise<void> {
    const generation = this.arrive();
    if (generation !== null) {
      while (Atomics.load(this.state, GENERATION) === generation) {
        const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.state, GENERATION, generation);
        if (waited.async) await waited.value;
      }
    }
    if (this.failed) throw new BarrierFailed();
  }
}
