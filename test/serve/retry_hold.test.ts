import { describe, expect, it } from 'vitest';

import { RetryHold } from '../../src/serve/retry_hold';

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => { done = true; });
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('RetryHold', () => {
  it('holds the next request on a refused connection until its Retry-After, once; other connections go at once', async () => {
    const holds = new RetryHold({ jitter: 0 });
    const [a, b] = [{}, {}];
    expect(holds.wait(a)).toBeNull(); // never refused
    const began = Date.now();
    holds.refused(a, 0.2);
    expect(holds.wait(b)).toBeNull();
    const held = holds.wait(a)!;
    expect(held).toBeInstanceOf(Promise);
    expect(holds.size).toBe(1);
    expect(await settled(held)).toBe(false);
    await held;
    expect(Date.now() - began).toBeGreaterThanOrEqual(190); // a lower bound only: never sooner
    expect(holds.size).toBe(0);
    expect(holds.wait(a)).toBeNull(); // one hold per refusal
    // A refusal whose Retry-After has passed holds nothing.
    holds.refused(b, 1, Date.now() - 2000);
    expect(holds.wait(b)).toBeNull();
  });

  it('lets a held request go up to half a Retry-After late, at random (clients refused together do not stay in step)', async () => {
    // The latest draw: 0.2 s + 0.5 × 0.2 s. The hold is a lower bound only: never sooner.
    const late = new RetryHold({ random: () => 0.999 });
    const c = {};
    const began = Date.now();
    late.refused(c, 0.2, began);
    await late.wait(c, began)!;
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    // Early or not is judged by the Retry-After itself: a retry once it has passed is not held.
    const d = {};
    late.refused(d, 0.2, began);
    expect(late.wait(d, began + 200)).toBeNull();
    expect(() => new RetryHold({ jitter: -1 })).toThrow(/'jitter' passed to 'RetryHold' must be a finite number >= 0, got -1/);
  });

  it('a connection that keeps retrying early is told to wait longer (doubling, capped); honouring, admission or a quiet spell start it again', () => {
    const holds = new RetryHold({ jitter: 0 });
    const c = {};
    let t = 1_000_000;
    // A storm on one connection: refused, retried at once (held, then refused), and again.
    const storm = () => {
      const seconds = holds.refused(c, 1, t);
      expect(holds.wait(c, t + 5)).toBeInstanceOf(Promise); // early
      t += seconds * 1000;
      return seconds;
    };
    expect([storm(), storm(), storm(), storm()]).toEqual([1, 2, 4, 4]); // capped at 4 s
    // The early retry's own refusal says the grown value too (it sets no hold).
    expect(holds.retryAfter(c, 1, t)).toBe(4);
    expect(holds.retryAfter({}, 1, t)).toBe(1); // other connections are not concerned
    // Honoured: the next request comes after its Retry-After; back to the service's value.
    expect(holds.refused(c, 1, t)).toBe(4);
    expect(holds.wait(c, t + 4000)).toBeNull();
    expect(holds.refused(c, 1, t + 4000)).toBe(1);
    // Admitted: back too.
    holds.wait(c, t + 4001);
    expect(holds.refused(c, 1, t + 4002)).toBe(2);
    holds.wait(c, t + 4003);
    holds.admitted(c);
    expect(holds.refused(c, 1, t + 4004)).toBe(1);
    // Left alone for twice the cap: back too.
    holds.wait(c, t + 4005);
    expect(holds.retryAfter(c, 1, t + 4006)).toBe(2);
    expect(holds.retryAfter(c, 1, t + 4005 + 8001)).toBe(1);
    // Never below the service's own value; maxRetryAfter 1: no growth.
    holds.wait(c, t + 4006);
    expect(holds.retryAfter(c, 5, t + 4007)).toBe(5);
    const flat = new RetryHold({ maxRetryAfter: 1 });
    const f = {};
    flat.refused(f, 1, t);
    flat.wait(f, t + 1);
    expect(flat.refused(f, 1, t + 2)).toBe(1);
    holds.releaseAll();
    flat.releaseAll();
    expect(() => new RetryHold({ maxRetryAfter: 0 })).toThrow(/'maxRetryAfter' passed to 'RetryHold' must be a finite number > 0, got 0/);
  });

  it('releaseAll lets every held request go at once (shutdown)', async () => {
    const holds = new RetryHold();
    const connections = [{}, {}, {}];
    connections.forEach((c) => holds.refused(c, 30));
    const held = connections.map((c) => holds.wait(c)!);
    expect(await settled(held[0])).toBe(false);
    holds.releaseAll();
    await Promise.all(held); // would take 30 s otherwise (the test times out first)
    expect(holds.size).toBe(0);
  });

  it('ignores missing connections and non-positive delays', () => {
    const holds = new RetryHold();
    const c = {};
    holds.refused(null, 1);
    holds.refused(c, 0);
    expect(holds.wait(c)).toBeNull();
    expect(holds.wait(undefined)).toBeNull();
  });
});
