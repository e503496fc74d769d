import { describe, expect, it } from 'vitest';
import { createRng, mulberry32 } from '../../src/data/rng.js';

describe('mulberry32 / createRng', () => {
  it('repeats a stream for a seed and differs between seeds', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const xa = Array.from({ length: 20 }, a);
    expect(Array.from({ length: 20 }, b)).toEqual(xa);
    expect(Array.from({ length: 20 }, c)).not.toEqual(xa);
    for (const x of xa) expect(x >= 0 && x < 1).toBe(true);
  });

  it('draws integers in range, roughly uniformly', () => {
    const rng = createRng(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[rng.int(10)]++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  it('draws standard normals', () => {
    const rng = createRng(2);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) { const x = rng.normal(); s += x; s2 += x * x; }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });

  it('shuffles into a permutation, reproducibly', () => {
    const p1 = createRng(3).shuffle(Array.from({ length: 50 }, (_, i) => i));
    const p2 = createRng(3).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
    expect([...p1].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(p2)).toEqual(p1);
    expect(p1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects a non-integer seed', () => {
    expect(() => createRng(1.5)).toThrow(/'seed' passed to 'createRng' must be an integer, got 1.5/);
  });
});
