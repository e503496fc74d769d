import { describe, expect, it } from 'vitest';

import { BarrierFailed, SharedBarrier, BARRIER_WORDS } from '../../../src/train/parallel/barrier';
import { GradientExchange } from '../../../src/train/parallel/gradient_exchange';
import { shardRange } from '../../../src/train/objective';

describe('GradientExchange', () => {
  /** Reduce-scatter as the threads run it: every shard its chunk, then the whole vector. */
  const allReduce = (exchanges: GradientExchange[], step: number, scale: number) => {
    exchanges.forEach((x, shard) => x.reduceShare(step, shard, scale));
    return Array.from(exchanges[0].reduced(step));
  };

  it('sums the shards in shard order, scaled, per step parity, and totals the losses', () => {
    const exchange = GradientExchange.create(3, 4);
    const others = [1, 2].map(() => new GradientExchange(exchange.layout)); // other threads' views of the same memory
    exchange.slot(0, 0).set([1, 2, 3, 4]);
    others[0].slot(0, 1).set([10, 20, 30, 40]);
    others[1].slot(0, 2).set([100, 200, 300, 400]);
    exchange.slot(1, 0).set([-1, -1, -1, -1]); // the next step's slots do not touch this step's
    exchange.setLoss(0, 0, 1.5, 2);
    others[1].setLoss(0, 2, 2.5, 3);
    expect([0, 1, 2].map((s) => exchange.chunk(s))).toEqual([[0, 2], [2, 3], [3, 4]]);
    expect(allReduce([exchange, ...others], 0, 0.5)).toEqual([55.5, 111, 166.5, 222]);
    expect(Array.from(others[1].reduced(0))).toEqual([55.5, 111, 166.5, 222]); // every thread reads it
    expect(others[0].totalLoss(0)).toEqual({ sum: 4, count: 5 });
    // Float32 sums in shard order: (1e8 + 1) + (−1e8) = 0 in float32, not 1.
    const rounding = GradientExchange.create(3, 1);
    rounding.slot(0, 0)[0] = 1e8;
    rounding.slot(0, 1)[0] = 1;
    rounding.slot(0, 2)[0] = -1e8;
    expect([0, 1, 2].map((s) => rounding.chunk(s))).toEqual([[0, 1], [1, 1], [1, 1]]);
    expect(allReduce([0, 1, 2].map(() => new GradientExchange(rounding.layout)), 0, 1)[0]).toBe(0);
  });

  it('gives, bit for bit, what every thread summing the whole vector gave (the previous all-reduce)', () => {
    for (const [shards, size] of [[2, 1001], [3, 10], [4, 3], [5, 4099]]) {
      const exchange = GradientExchange.create(shards, size);
      const threads = Array.from({ length: shards }, () => new GradientExchange(exchange.layout));
      let seed = shards * 7919 + size;
      const random = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return (seed / 2 ** 32 - 0.5) * 10 ** ((seed % 7) - 3); };
      for (const step of [6, 7]) {
        for (let s = 0; s < shards; s++) threads[s].slot(step, s).set(Float32Array.from({ length: size }, random));
      }
      for (const step of [6, 7]) {
        // The previous reduce: the whole vector, slots added in shard order into a float32 array, then scaled.
        const expected = new Float32Array(size);
        expected.set(exchange.slot(step, 0));
        for (let s = 1; s < shards; s++) for (let i = 0; i < size; i++) expected[i] += exchange.slot(step, s)[i];
        for (let i = 0; i < size; i++) expected[i] *= 1 / 3;
        const chunks = threads.map((_, s) => exchange.chunk(s));
        expect(chunks[0][0]).toBe(0);
        expect(chunks[shards - 1][1]).toBe(size);
        chunks.slice(1).forEach((c, s) => expect(c[0]).toBe(chunks[s][1]));
        expect(allReduce(threads, step, 1 / 3)).toEqual(Array.from(expected));
      }
    }
  });

  it('keeps a stop flag per step parity', () => {
    const exchange = GradientExchange.create(2, 1);
    exchange.requestStop(4, true);
    exchange.requestStop(5, false);
    expect([exchange.stopRequested(4), exchange.stopRequested(5)]).toEqual([true, false]);
  });

  it('rejects bad sizes by name', () => {
    expect(() => GradientExchange.create(0, 4)).toThrow(/'shards' passed to 'GradientExchange' must be a positive integer, got 0/);
    expect(() => GradientExchange.create(2, -1)).toThrow(/'size' passed to 'GradientExchange' must be a non-negative integer/);
  });
});

describe('SharedBarrier', () => {
  it('releases on the last arrival and throws for everyone once failed', async () => {
    const state = new Int32Array(new SharedArrayBuffer(4 * BARRIER_WORDS));
    const a = new SharedBarrier(state, 2);
    const b = new SharedBarrier(state, 2);
    let released = false;
    const waiting = a.arriveAndWaitAsync().then(() => { released = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toBe(false);
    b.arriveAndWait(); // the last party: returns at once and releases a
    await waiting;
    expect(released).toBe(true);
    const failing = a.arriveAndWaitAsync();
    b.fail();
    await expect(failing).rejects.toBeInstanceOf(BarrierFailed);
    expect(() => b.arriveAndWait()).toThrow(BarrierFailed);
    expect(() => new SharedBarrier(new Int32Array(3), 2)).toThrow(/SharedArrayBuffer/);
  });
});

describe('shardRange', () => {
  it('cuts a batch into contiguous shards covering every row once, the first ones a row larger', () => {
    expect([0, 1, 2].map((index) => shardRange(8, { index, count: 3 }))).toEqual([[0, 3], [3, 6], [6, 8]]);
    expect([0, 1, 2].map((index) => shardRange(1, { index, count: 3 }))).toEqual([[0, 1], [1, 1], [1, 1]]);
    expect(shardRange(5, undefined)).toEqual([0, 5]);
  });
});
