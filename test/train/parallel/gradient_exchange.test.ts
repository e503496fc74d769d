import { describe, expect, it } from 'vitest';

import { BarrierFailed, SharedBarrier, BARRIER_WORDS } from '../../../src/train/parallel/barrier';
import { GradientExchange } from '../../../src/train/parallel/gradient_exchange';
import { shardRange } from '../../../src/train/objective';

describe('GradientExchange', () => {
  it('sums the shards in shard order, scaled, per step parity, and totals the losses', () => {
    const exchange = GradientExchange.create(3, 4);
    const other = new GradientExchange(exchange.layout); // another thread's view of the same memory
    exchange.slot(0, 0).set([1, 2, 3, 4]);
    other.slot(0, 1).set([10, 20, 30, 40]);
    other.slot(0, 2).set([100, 200, 300, 400]);
    exchange.slot(1, 0).set([-1, -1, -1, -1]); // the next step's slots do not touch this step's
    exchange.setLoss(0, 0, 1.5, 2);
    other.setLoss(0, 2, 2.5, 3);
    expect(Array.from(exchange.reduce(0, 0.5, new Float32Array(4)))).toEqual([55.5, 111, 166.5, 222]);
    expect(other.totalLoss(0)).toEqual({ sum: 4, count: 5 });
    // Float32 sums in shard order: (1e8 + 1) + (−1e8) = 0 in float32, not 1.
    const rounding = GradientExchange.create(3, 1);
    rounding.slot(0, 0)[0] = 1e8;
    rounding.slot(0, 1)[0] = 1;
    rounding.slot(0, 2)[0] = -1e8;
    expect(rounding.reduce(0, 1, new Float32Array(1))[0]).toBe(0);
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
