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
    late.refused(c, 0.2, began);
    expect(late.wait(c, began + 200)).toBeNull();
    expect(() => new RetryHold({ jitter: -1 })).toThrow(/'jitter' passed to 'RetryHold' must be a finite number >= 0, got -1/);
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
