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
    const holds = new RetryHold();
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
