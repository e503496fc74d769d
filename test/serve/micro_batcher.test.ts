import { describe, expect, it } from 'vitest';

import { MicroBatcher } from '../../src/serve/micro_batcher';
import { ServeError } from '../../src/serve/serve_error';

/** A "generator" whose output row for input r is [r, 10r], recording its calls. */
function recorder() {
  const calls: number[][] = [];
  const run = async (rows: number[]) => {
    calls.push(rows);
    await new Promise((r) => setTimeout(r, 1));
    return Float32Array.from(rows.flatMap((r) => [r, 10 * r]));
  };
  return { calls, run };
}

describe('MicroBatcher', () => {
  it('merges concurrent submissions into one call and gives each its own rows', async () => {
    const { calls, run } = recorder();
    const sizes: number[] = [];
    const b = new MicroBatcher(run, 2, { maxBatch: 64, maxWaitMs: 5, onBatch: (n) => sizes.push(n) });
    const results = await Promise.all([[1], [2, 3], [4]].map((rows) => b.submit(rows)));
    expect(calls).toEqual([[1, 2, 3, 4]]);
    expect(sizes).toEqual([4]);
    expect(results.map((r) => Array.from(r))).toEqual([[1, 10], [2, 20, 3, 30], [4, 40]]);
  });

  it('typicalRows follows the size of recent submissions (what a request whose body is unread is assumed to bring)', async () => {
    const { run } = recorder();
    const b = new MicroBatcher(run, 2, { maxBatch: 64 });
    expect(b.typicalRows).toBe(1);
    for (let i = 0; i < 40; i++) await b.submit(Array.from({ length: 20 }, (_, j) => j + 1));
    expect(b.typicalRows).toBeGreaterThan(19);
    expect(b.typicalRows).toBeLessThanOrEqual(20);
  });

  it('splits at maxBatch and runs one call at a time; later rows join the next call', async () => {
    const { calls, run } = recorder();
    const b = new MicroBatcher(run, 2, { maxBatch: 3, maxWaitMs: 50 });
    const all = Promise.all([1, 2, 3, 4, 5, 6, 7].map((r) => b.submit([r])));
    const results = await all;
    expect(calls).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(results.map((r) => r[0])).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a one-row submission gets its slice of the call output; larger ones are assembled across calls', async () => {
    const outputs: Float32Array[] = [];
    const b = new MicroBatcher(async (rows: number[]) => {
      const out = Float32Array.from(rows.flatMap((r) => [r, -r]));
      outputs.push(out);
      return out;
    }, 2, { maxBatch: 2, maxWaitMs: 5 });
    const [one, many, last] = await Promise.all([b.submit([1]), b.submit([2, 3, 4]), b.submit([5])]);
    // Calls [1, 2], [3, 4], [5]: the three-row submission spans two of them.
    expect(outputs.map((o) => Array.from(o))).toEqual([[1, -1, 2, -2], [3, -3, 4, -4], [5, -5]]);
    expect(Array.from(one)).toEqual([1, -1]);
    expect(one.buffer).toBe(outputs[0].buffer); // no copy
    expect(Array.from(many)).toEqual([2, -2, 3, -3, 4, -4]);
    expect(Array.from(last)).toEqual([5, -5]);
    expect(last.byteOffset).toBe(0);
  });

  it('rejects only the submissions of a failed call, and refuses work beyond maxQueue', async () => {
    let fail = true;
    const b = new MicroBatcher(async (rows: number[]) => {
      if (fail) throw new Error('boom');
      return Float32Array.from(rows);
    }, 1, { maxWaitMs: 0, maxQueue: 3 });
    await expect(b.submit([1])).rejects.toThrow('boom');
    fail = false;
    expect(Array.from(await b.submit([2, 3]))).toEqual([2, 3]);
    const over = b.submit([1, 2, 3, 4]);
    await expect(over).rejects.toBeInstanceOf(ServeError);
    await expect(over).rejects.toMatchObject({ status: 503, code: 'overloaded' });
  });

  it('drain runs what is queued without waiting for maxWaitMs', async () => {
    const { calls, run } = recorder();
    const b = new MicroBatcher(run, 2, { maxWaitMs: 60_000 });
    const p = b.submit([5]);
    await b.drain();
    expect(calls).toEqual([[5]]);
    expect(Array.from(await p)).toEqual([5, 50]);
    expect(b.pending).toBe(0);
  });

  it('checks its options', () => {
    expect(() => new MicroBatcher(async () => new Float32Array(0), 1, { maxBatch: 0 })).toThrow("'maxBatch' passed to 'MicroBatcher' must be an integer >= 1, got 0");
  });

  it('with concurrency 2 (a generator thread) keeps two calls in flight, counts their rows as queued, and estimates waits from the time the run reports', async () => {
    // Each call is held until released: what is in flight, and what admission sees, is exact.
    const gates: Array<() => void> = [];
    const calls: number[][] = [];
    const run = (rows: number[]) => {
      calls.push(rows);
      return new Promise<{ values: Float32Array; seconds: number }>((resolve) => gates.push(() =>
        // The thread says each call took 40 ms of its own: 10 ms per row.
        resolve({ values: Float32Array.from(rows.flatMap((r) => [r, 10 * r])), seconds: 0.04 })));
    };
    const seconds: number[] = [];
    const b = new MicroBatcher(run, 2, { maxBatch: 4, maxWaitMs: 0, maxQueue: 12, concurrency: 2,
      onBatch: (_, s) => seconds.push(s) });
    const first = b.submit([1, 2, 3, 4]);
    const second = b.submit([5, 6, 7, 8]);
    const third = b.submit([9, 10, 11, 12]);
    // Two full calls in flight at once, the third batch waits for a free slot.
    expect(calls).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
    expect(b.inFlight).toBe(8);
    expect(b.pending).toBe(4);
    // 8 in flight + 4 queued: the queue of 12 is full, one more row is refused by count.
    await expect(b.submit([13])).rejects.toMatchObject({ status: 503, code: 'overloaded' });
    gates[0]();
    expect(Array.from(await first)).toEqual([1, 10, 2, 20, 3, 30, 4, 40]);
    // The freed slot took the waiting batch at once, before the next turn of the event loop.
    expect(calls).toHaveLength(3);
    expect(b.inFlight).toBe(8);
    expect(b.pending).toBe(0);
    // The reported 40 ms per call of 4, not the (longer) wall time the call was in flight.
    expect(seconds).toEqual([0.04]);
    expect(b.estimatedWaitMs).toBeCloseTo(9 * 10, 0); // 8 in flight + 1 row, 10 ms each
    gates[1]();
    gates[2]();
    expect(Array.from(await second)).toEqual([5, 50, 6, 60, 7, 70, 8, 80]);
    expect(Array.from(await third)).toEqual([9, 90, 10, 100, 11, 110, 12, 120]);
    expect(b.inFlight).toBe(0);
    await b.drain();
  });

  it('with concurrency 2 and adaptive batching, rows gather while a call runs and go when it ends (no call of one row beside it)', async () => {
    const gates: Array<() => void> = [];
    const calls: number[][] = [];
    const run = (rows: number[]) => {
      calls.push(rows);
      return new Promise<Float32Array>((resolve) => gates.push(() => resolve(Float32Array.from(rows))));
    };
    const b = new MicroBatcher(run, 1, { maxBatch: 4, maxWaitMs: 0, concurrency: 2 });
    const first = b.submit([1]);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([[1]]);
    const later = [b.submit([2]), b.submit([3])];
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toEqual([[1]]); // held for the running call, not sent as a small one beside it
    gates[0]();
    await first;
    expect(calls).toEqual([[1], [2, 3]]);
    gates[1]();
    expect((await Promise.all(later)).map((v) => Array.from(v))).toEqual([[2], [3]]);
  });
});
