import { describe, expect, it } from 'vitest';

import { QueueAdmission } from '../../src/serve/admission';
import { MicroBatcher } from '../../src/serve/micro_batcher';
import { ServeError } from '../../src/serve/serve_error';

describe('QueueAdmission', () => {
  it('refuses past the sequence count, and past the expected wait once calls were measured', () => {
    const a = new QueueAdmission({ maxQueue: 100, maxQueueMs: 50, maxBatch: 10 });
    expect(a.refusal(0, 100)).toBeNull();
    const full = a.refusal(95, 6, 1000);
    expect(full).toBeInstanceOf(ServeError);
    expect(full).toMatchObject({ status: 503, code: 'overloaded', retryAfterSeconds: 1 });
    expect(full!.message).toContain('more than 100 sequences would be waiting for the generator (limit 100)');
    // One shared error per bound and Retry-After: a refusal builds nothing.
    expect(a.refusal(99, 6, 1000)).toBe(full);
    // No call measured yet: the time bound cannot refuse.
    expect(a.refusal(80, 10)).toBeNull();
    a.observeBatch(10, 0.01); // 1 ms per sequence in full calls
    expect(a.estimatedWaitMs(35, 1)).toBeCloseTo(36, 6);
    expect(a.refusal(39, 10)).toBeNull();                // 49 ms
    const slow = a.refusal(45, 15, 2000);                // 60 ms > 50
    expect(slow!.message).toContain('the sequences waiting for the generator are more than 50 ms of work (limit 50 ms)');
    expect(slow).not.toBe(full);
    // What fits in one call (maxBatch 10) always goes, however slow calls are.
    a.observeBatch(10, 10);
    expect(a.refusal(4, 6)).toBeNull();
    expect(a.refusal(4, 7, 2000)).not.toBeNull();
    // Readiness remembers the refusal for a second.
    expect(a.overloaded(2500)).toBe(true);
    expect(a.overloaded(3001)).toBe(false);
  });

  it('small calls do not inflate the estimate; Retry-After is the time to drain, 1..30 s', () => {
    const a = new QueueAdmission({ maxQueue: 1e6, maxQueueMs: 100, maxBatch: 100 });
    a.observeBatch(100, 0.1); // 1 ms per sequence
    for (let i = 0; i < 50; i++) a.observeBatch(1, 0.02); // 20 ms for one: overhead
    expect(a.estimatedWaitMs(99, 1)).toBeCloseTo(100, 6);
    expect(a.refusal(5000, 1)!.retryAfterSeconds).toBe(5); // 5 s of work to drain
    expect(a.refusal(900_000, 1)!.retryAfterSeconds).toBe(30);
  });
});

describe('MicroBatcher between calls', () => {
  it('lets the event loop run between two generator calls (I/O and timers are not starved)', async () => {
    const order: string[] = [];
    // Synchronous work per call, as a real forward pass is.
    const b = new MicroBatcher(async (rows: number[]) => {
      order.push(`call ${rows[0]}`);
      return Float32Array.from(rows);
    }, 1, { maxBatch: 1, maxWaitMs: 0 });
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => b.submit([i])));
    // Queued after the submissions: without a turn of the loop between calls, all 20 calls
    // would run before it.
    setImmediate(() => order.push('immediate'));
    await all;
    const at = order.indexOf('immediate');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(5);
  });

  it('estimates waits from the pace the queue drains at: the event-loop turns between calls count, not only the calls', async () => {
    // The calls themselves take microseconds; after each, its submitter keeps the event loop
    // busy for 20 ms (as encoding answers and refusing others do under overload), before the
    // next call can start. Counting the calls alone, the estimate stayed near 0.
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) { /* the turn between two calls */ }
    };
    const b = new MicroBatcher(async (rows: number[]) => Float32Array.from(rows), 1,
      { maxBatch: 4, maxWaitMs: 0, maxQueueMs: 1e9 });
    await Promise.all(Array.from({ length: 12 }, (_, i) =>
      b.submit([i, i, i, i]).then(() => busy(20))));
    // 11 chained calls, each at least 20 ms after the one before: ≥ 5 ms per row, the moving
    // average (weight 0.2) from a near-0 start reaching ≥ 1 - 0.8^11 ≈ 91 % of it.
    expect(b.estimatedWaitMs).toBeGreaterThan(4); // one more row
    expect(b.estimatedWaitMs).toBeLessThan(1000);
  });

  it('refuses by expected wait (maxQueueMs) with a 503 naming the queue', async () => {
    // The cost per sequence comes from a recorded call (as the warm-up records one), not from
    // timing a call here: a wall-clock measurement on a loaded machine moved it past the bound
    // and refused the admitted request too. The generator is held while the queue is examined.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const b = new MicroBatcher(async (rows: number[]) => {
      await gate;
      return Float32Array.from(rows);
    }, 1, { maxBatch: 4, maxWaitMs: 0, maxQueue: 10_000, maxQueueMs: 100 });
    b.observe(4, 0.02); // a full call of 4 took 20 ms: 5 ms per sequence
    const running = b.submit([1, 2, 3, 4]); // a full call: starts at once, held at the gate
    // 12 queued behind the 4 in flight (which count as queued): 80 ms of work, admitted.
    const queued = b.submit(Array.from({ length: 12 }, (_, i) => i));
    const refused = b.submit(Array.from({ length: 16 }, (_, i) => i)).then(() => null, (e: ServeError) => e);
    const e = await refused;
    expect(e).toBeInstanceOf(ServeError);
    expect(e).toMatchObject({ status: 503, code: 'overloaded' });
    expect(e!.message).toContain('more than 100 ms of work (limit 100 ms)');
    expect(b.overloaded).toBe(true);
    expect(b.pending).toBe(12);
    expect(b.inFlight).toBe(4);
    expect(b.refusal(16)).not.toBeNull();
    // 4 in flight + 12 queued + 8 = 120 ms: refused (counting only the queue, 100 ms, it was not).
    expect(b.refusal(8)).not.toBeNull();
    expect(b.refusal(4)).toBeNull(); // 100 ms: at the bound, not past it
    release();
    expect(Array.from(await running)).toEqual([1, 2, 3, 4]);
    expect((await queued).length).toBe(12);
    expect(b.refusal(1)).toBeNull();
  });
});
