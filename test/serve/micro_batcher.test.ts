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
});
