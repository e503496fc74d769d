import { describe, expect, it } from 'vitest';
import { synthetic, type SyntheticSplit } from '../../src/data/synthetic.js';
import { rowSet, rowText, sameDataset } from './fixtures.js';

describe('synthetic', () => {
  it('is deterministic per seed', () => {
    const a = synthetic({ users: 50, items: 200, seed: 3 });
    const b = synthetic({ users: 50, items: 200, seed: 3 });
    const c = synthetic({ users: 50, items: 200, seed: 4 });
    expect(sameDataset(a.train, b.train) && sameDataset(a.test, b.test)).toBe(true);
    expect(Buffer.from(a.truth.userTransform.buffer).equals(Buffer.from(b.truth.userTransform.buffer))).toBe(true);
    expect(sameDataset(a.train, c.train)).toBe(false);
    expect(a.protocol).toEqual({ ...c.protocol, seed: 3, source: 'synthetic(users=50,items=200,seed=3)',
      train_rows: a.train.size });
  });

  it('follows the duet-seq-v1 layout', () => {
    const L = 12;
    const T = 4;
    const { train, test, protocol } = synthetic({
      users: 40, items: 150, clickLength: L, triggerLength: T, minSeq: 3, maxSeq: L + 1,
      trainNeg: 2, testNeg: 5, seed: 9,
    });
    expect(protocol).toMatchObject({ protocol: 'duet-seq-v1', users: 40, items: 150, id_vocab: 151,
      test_users: 40, test_rows: 240, max_len: L, trigger_len: T, train_neg: 2, test_neg: 5 });
    expect([train.clickLength, train.triggerLength, train.numItems, train.numUsers]).toEqual([L, T, 150, 40]);
    const problems: string[] = [];
    const expectedPositives: string[] = [];
    for (let r = 0; r < test.size; r++) {
      if (r % 6 !== 0) {
        if (test.label[r] !== 0 || test.user[r] !== test.user[r - (r % 6)]) problems.push(`test row ${r}`);
        continue;
      }
      // Positive test row: history is the whole sequence but the last item (maxSeq <= L + 1).
      const u = test.user[r];
      const click = Array.from(test.click.subarray(r * L, r * L + L));
      const hist = click.filter((v) => v !== 0);
      const seq = [...hist, test.target[r]];
      if (test.label[r] !== 1 || seq.length < 3 || seq.length > L + 1) problems.push(`user ${u} length`);
      if (new Set(seq).size !== seq.length) problems.push(`user ${u} repeats an item`);
      if (click.join() !== [...hist, ...new Array(L - hist.length).fill(0)].join()) problems.push(`user ${u} padding`);
      for (let k = 1; k <= 5; k++) if (seq.includes(test.target[r + k])) problems.push(`user ${u} test negative`);
      for (let t = 1; t < seq.length - 1; t++) {
        const h = seq.slice(0, t);
        const pad = (w: number) => [...h.slice(-w), ...new Array(Math.max(0, w - h.length)).fill(0)];
        expectedPositives.push(`${u};${seq[t]};${pad(T)};${pad(L)};1`);
      }
      for (let q = 0; q < train.size; q++) {
        if (train.user[q] === u && train.label[q] === 0 && seq.includes(train.target[q])) {
          problems.push(`user ${u} train negative`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(rowSet(train, (r) => train.label[r] === 1)).toEqual(expectedPositives.sort());
    // Each positive's history appears with exactly trainNeg negatives.
    const key = (r: number) => rowText(train, r).split(';').filter((_, i) => i !== 1 && i !== 4).join(';');
    const negatives = new Map<string, number>();
    for (let r = 0; r < train.size; r++) {
      if (train.label[r] === 0) negatives.set(key(r), (negatives.get(key(r)) ?? 0) + 1);
    }
    expect(train.size).toBe(3 * expectedPositives.length);
    for (let r = 0; r < train.size; r++) if (train.label[r] === 1) expect(negatives.get(key(r))).toBe(2);
  });

  it('keeps sequences within [minSeq, maxSeq] and uses the default widths', () => {
    const { test, train, protocol } = synthetic({ users: 30, items: 100, minSeq: 6, maxSeq: 9 });
    expect([train.clickLength, train.triggerLength, test.size, protocol.max_len]).toEqual([30, 10, 1500, 30]);
    for (let r = 0; r < test.size; r += 50) {
      const n = test.click.subarray(r * 30, r * 30 + 30).filter((v) => v !== 0).length + 1;
      expect(n >= 6 && n <= 9).toBe(true);
    }
  });

  // The design claim: the next item is scored by v·W_u h with a per-user W_u. An oracle that
  // knows each user's transform ranks test positives far better than one with a shared transform.
  function oracleGap(s: SyntheticSplit): number {
    const { test, truth, protocol } = s;
    const d = truth.dim;
    const L = test.clickLength;
    const shared = new Float64Array(d * d);
    for (let u = 1; u <= protocol.users; u++) {
      for (let j = 0; j < d * d; j++) shared[j] += truth.userTransform[u * d * d + j] / protocol.users;
    }
    const score = (W: ArrayLike<number>, off: number, r: number) => {
      const h = new Float64Array(d);
      for (let p = 0; p < L && test.click[r * L + p] !== 0; p++) {
        const it = test.click[r * L + p];
        for (let j = 0; j < d; j++) h[j] = truth.recency * h[j] + truth.itemVectors[it * d + j];
      }
      let s = 0;
      for (let i = 0; i < d; i++) {
        let q = 0;
        for (let j = 0; j < d; j++) q += W[off + i * d + j] * h[j];
        s += q * truth.itemVectors[test.target[r] * d + i];
      }
      return s;
    };
    const uauc = (f: (r: number) => number) => {
      const step = 1 + protocol.test_neg;
      let total = 0;
      for (let r0 = 0; r0 < test.size; r0 += step) {
        const pos = f(r0);
        let wins = 0;
        for (let r = r0 + 1; r < r0 + step; r++) { const v = f(r); wins += v < pos ? 1 : v === pos ? 0.5 : 0; }
        total += wins / (step - 1);
      }
      return total / protocol.test_users;
    };
    const own = uauc((r) => score(truth.userTransform, test.user[r] * d * d, r));
    const common = uauc((r) => score(shared, 0, r));
    return own - common;
  }

  it('makes per-user transforms matter (and barely with a single taste mode)', () => {
    const opts = { users: 300, items: 600, testNeg: 19, seed: 1 };
    expect(oracleGap(synthetic(opts))).toBeGreaterThan(0.1);
    // One mode: users differ only by their small own noise, so a shared transform is nearly as good.
    expect(Math.abs(oracleGap(synthetic({ ...opts, modes: 1 })))).toBeLessThan(0.03);
  });

  // The story behind the DUET showcase: a group's home genre shows in its users' histories, and
  // each group moves between genres by its own map, so the same last genre leads different groups
  // to different next genres.
  function groupStats(s: SyntheticSplit) {
    const { test, truth, protocol } = s;
    const K = Math.max(...truth.itemCluster) + 1;
    const M = truth.modeHome.length;
    const L = test.clickLength;
    const step = 1 + protocol.test_neg;
    const counts = new Float64Array(M * K * K); // [group, genre, next genre]
    let home = 0;
    let total = 0;
    for (let r = 0; r < test.size; r += step) {
      const m = truth.userMode[test.user[r]];
      const seq = [...Array.from(test.click.subarray(r * L, r * L + L)).filter((v) => v !== 0), test.target[r]];
      const genres = seq.map((it) => truth.itemCluster[it]);
      for (const g of genres) { home += g === truth.modeHome[m] ? 1 : 0; total++; }
      for (let t = 1; t < genres.length; t++) counts[(m * K + genres[t - 1]) * K + genres[t]]++;
    }
    // How often the most frequent next genre given (group, genre), or given the genre alone, is
    // right; and how many different best next genres the groups have per genre.
    let own = 0;
    let pooled = 0;
    let moves = 0;
    let distinctBest = 0;
    for (let a = 0; a < K; a++) {
      const all = new Float64Array(K);
      const best = new Set<number>();
      for (let m = 0; m < M; m++) {
        const row = Array.from(counts.subarray((m * K + a) * K, (m * K + a + 1) * K));
        row.forEach((c, b) => { all[b] += c; moves += c; });
        own += Math.max(...row);
        if (Math.max(...row) > 0) best.add(row.indexOf(Math.max(...row)));
      }
      pooled += Math.max(...all);
      distinctBest += best.size / K;
    }
    return { homeShare: home / total, chance: 1 / K, own: own / moves, pooled: pooled / moves, distinctBest };
  }

  it('shows each group in its history and moves each group by its own genre map', () => {
    const stats = groupStats(synthetic({ users: 400, items: 400, seed: 2 }));
    expect(stats.homeShare).toBeGreaterThan(3 * stats.chance);
    expect(stats.own).toBeGreaterThan(0.5);
    expect(stats.own - stats.pooled).toBeGreaterThan(0.15);
    // 4 groups: per genre, the groups' best next genres mostly differ (1 with one shared map).
    expect(stats.distinctBest).toBeGreaterThan(2);
    // One group: its own map is the pooled map.
    const one = groupStats(synthetic({ users: 400, items: 400, seed: 2, modes: 1 }));
    expect(one.own).toBe(one.pooled);
  });

  it('falls back to random centres and rotations when dim < clusters', () => {
    const { truth, test } = synthetic({ users: 30, items: 120, clusters: 8, dim: 4, seed: 5 });
    expect(truth.dim).toBe(4);
    expect(truth.userTransform.length).toBe(31 * 16);
    expect(Array.from(truth.modeHome)).toHaveLength(4);
    expect(test.size).toBe(30 * 50);
    expect(new Set(Array.from(truth.modeHome)).size).toBe(4); // distinct homes while modes <= clusters
  });

  it('checks its options', () => {
    expect(() => synthetic({ minSeq: 2 })).toThrow(/'minSeq' passed to 'synthetic' must be an integer >= 3, got 2/);
    expect(() => synthetic({ items: 10, maxSeq: 10 })).toThrow(/'maxSeq' passed to 'synthetic' must be an integer in \[5, 9\], got 10/);
    expect(() => synthetic({ recency: 1 })).toThrow(/'recency' passed to 'synthetic' must be a number in \[0, 1\), got 1/);
    expect(() => synthetic({ user: 3 } as never)).toThrow(/unknown option 'user' passed to 'synthetic'/);
    expect(() => synthetic({ clickLength: 0 })).toThrow(/'clickLength' passed to 'synthetic' must be an integer >= 1, got 0/);
  });
});
