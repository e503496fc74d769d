import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildDuetSplit } from '../../src/data/build_duet_split.js';
import { readDuetSplit } from '../../src/data/duet_split_io.js';
import { readRatings } from '../../src/data/read_ratings.js';
import { readSequenceFile } from '../../src/data/read_sequence_file.js';
import { createRng } from '../../src/data/rng.js';
import type { DuetDataset, DuetSplit, UserSequence } from '../../src/data/types.js';
import { rowSet, rowText, sameDataset, tmpDir, writeFixture } from './fixtures.js';

const dir = tmpDir();

describe('buildDuetSplit', () => {
  it('lays rows out as protocol duet-seq-v1 says', () => {
    const users: UserSequence[] = [
      { user: 'a', items: ['x', 'y', 'z', 'w'] },   // items 1 2 3 4
      { user: 'short', items: ['q', 'r'] },         // dropped before re-indexing
      { user: 'b', items: ['y', 'v', 'x'] },        // items 2 5 1
    ];
    const { train, test, protocol } = buildDuetSplit(users,
      { maxLen: 3, triggerLen: 2, trainNeg: 2, testNeg: 1, source: 'hand' });
    expect(protocol).toEqual({
      protocol: 'duet-seq-v1', source: 'hand', users: 2, items: 5, id_vocab: 6,
      train_rows: 9, test_users: 2, test_rows: 4, max_len: 3, trigger_len: 2,
      train_neg: 2, test_neg: 1, max_test_users: 5000, max_train_rows: 0, seed: 0,
    });
    expect(rowSet(train, (r) => train.label[r] === 1)).toEqual([
      '1;2;1,0;1,0,0;1',
      '1;3;1,2;1,2,0;1',
      '2;5;2,0;2,0,0;1',
    ]);
    // Test rows: grouped by user, positive first, then its negatives.
    expect(rowText(test, 0)).toBe('1;4;2,3;1,2,3;1');
    expect(rowText(test, 2)).toBe('2;1;2,5;2,5,0;1');
    // The only item user 1 never touched is 5; user 2's are 3 and 4.
    expect(test.target[1]).toBe(5);
    expect([3, 4]).toContain(test.target[3]);
    for (let r = 0; r < train.size; r++) {
      if (train.label[r] === 0) expect(train.user[r] === 1 ? [5] : [3, 4]).toContain(train.target[r]);
    }
    expect(train.numItems).toBe(5);
    expect(test.numUsers).toBe(2);
  });

  it('is reproducible per seed and shuffles train rows', () => {
    const users = Array.from({ length: 30 }, (_, u) => ({
      user: String(u), items: Array.from({ length: 8 }, (_, j) => String((u * 3 + j * 7) % 40)),
    }));
    const a = buildDuetSplit(users, { seed: 5 });
    const b = buildDuetSplit(users, { seed: 5 });
    const c = buildDuetSplit(users, { seed: 6 });
    expect(sameDataset(a.train, b.train)).toBe(true);
    expect(sameDataset(a.test, b.test)).toBe(true);
    expect(sameDataset(a.train, c.train)).toBe(false);
    expect(Array.from(c.train.target)).not.toEqual(Array.from(a.train.target));
    expect(rowSet(c.train, (r) => c.train.label[r] === 1)).toEqual(rowSet(a.train, (r) => a.train.label[r] === 1));
    // Shuffled: users are not in blocks.
    const u = Array.from(a.train.user);
    expect(u).not.toEqual([...u].sort((x, y) => x - y));
  });

  it('samples test users and caps train rows', () => {
    const users = Array.from({ length: 20 }, (_, u) => ({
      user: `u${u}`, items: Array.from({ length: 6 }, (_, j) => `i${(u + j * 5) % 50}`),
    }));
    const { train, test, protocol } = buildDuetSplit(users, { maxTestUsers: 4, maxTrainRows: 17, testNeg: 2 });
    expect(train.size).toBe(17);
    expect(protocol.test_users).toBe(4);
    expect(test.size).toBe(12);
    const testUsers = Array.from(test.user).filter((_, r) => r % 3 === 0);
    expect(testUsers).toEqual([...testUsers].sort((x, y) => x - y));
    expect(new Set(testUsers).size).toBe(4);
  });

  it('rejects bad options and users who saw every item', () => {
    const users = [{ user: 'a', items: ['1', '2', '3'] }];
    expect(() => buildDuetSplit(users, { maxLen: 0 })).toThrow(
      /'maxLen' passed to 'buildDuetSplit' must be an integer >= 1, got 0/);
    expect(() => buildDuetSplit(users, { seed: 0.5 })).toThrow(/'seed' passed to 'buildDuetSplit'/);
    expect(() => buildDuetSplit(users, { maxlen: 3 } as never)).toThrow(/unknown option 'maxlen'/);
    expect(() => buildDuetSplit(users)).toThrow(
      /'buildDuetSplit' cannot draw negatives for user 1: they interacted with all 3 items/);
    expect(buildDuetSplit(users, { trainNeg: 0, testNeg: 0 }).test.size).toBe(1);
  });
});

// --- Cross-check against the reference implementation -------------------------------------

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const script = path.resolve(repoRoot, '../shared/tools/make_duet_data.py');
const hasPython = spawnSync('python3', ['--version']).status === 0;
const skipReason = !hasPython ? 'python3 not found'
  : !fs.existsSync(script) ? `${script} not found` : '';
if (skipReason) console.warn(`skipping the make_duet_data.py cross-check: ${skipReason}`);

function runPython(input: string[], out: string, flags: string[] = []): void {
  const r = spawnSync('python3', [script, ...input, '--out', out, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_duet_data.py failed: ${r.stderr}`);
}

function toFlags(o: Record<string, number>): string[] {
  return Object.entries(o).flatMap(([k, v]) =>
    [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(v)]);
}

/** A user's rows minus the target: what must match between negatives of the two tools. */
function historyKey(ds: DuetDataset, r: number): string {
  const [user, , trig, click, label] = rowText(ds, r).split(';');
  return [user, trig, click, label].join(';');
}

async function compare(kind: '--seq' | '--ratings', file: string, opts: Record<string, number>) {
  const out = path.join(dir, `py-${path.basename(file)}-${Object.values(opts).join('-')}`);
  runPython([kind, file], out, toFlags(opts));
  const py = await readDuetSplit(out);
  const users = kind === '--seq' ? await readSequenceFile(file) : await readRatings(file, { minRating: null });
  const ours: DuetSplit = buildDuetSplit(users, { ...opts, source: path.basename(file) });
  expect(ours.protocol).toEqual(py.protocol);
  for (const part of ['train', 'test'] as const) {
    const a = ours[part];
    const b = py[part];
    expect(a.size).toBe(b.size);
    expect(a.numItems).toBe(b.numItems);
    expect(rowSet(a, (r) => a.label[r] === 1)).toEqual(rowSet(b, (r) => b.label[r] === 1));
    const negKeys = (ds: DuetDataset) => Array.from({ length: ds.size }, (_, r) => r)
      .filter((r) => ds.label[r] === 0).map((r) => historyKey(ds, r)).sort();
    expect(negKeys(a)).toEqual(negKeys(b));
  }
  // Test rows are grouped by user with the positive first, in both.
  for (const ds of [ours.test, py.test]) {
    const step = 1 + (opts.testNeg ?? 49);
    const bad = Array.from({ length: ds.size }, (_, r) => r).filter((r) =>
      ds.label[r] !== (r % step === 0 ? 1 : 0) || ds.user[r] !== ds.user[r - (r % step)]);
    expect(bad).toEqual([]);
  }
  return ours;
}

/** A --seq fixture: varied lengths (incl. < 3), repeats, lengths past max-len. */
function seqFixture(): string {
  const rng = createRng(11);
  const lines: string[] = [];
  for (let u = 0; u < 40; u++) {
    const n = u % 9 === 0 ? 1 + (u % 2) : 3 + rng.int(40);
    const items = Array.from({ length: n }, () => String(100 + rng.int(120)));
    lines.push(`user${u} ${items.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** A ratings fixture: header, interleaved users, ties, unsorted times, users with < 3 rows. */
function ratingsFixture(amazon: boolean): string {
  const rng = createRng(12);
  const rows: string[] = amazon ? [] : ['userId,movieId,rating,timestamp'];
  for (let i = 0; i < 400; i++) {
    const u = rng.int(25);
    const n = u < 3 ? 0 : 1; // users 0..2 get at most one or two rows below
    if (n === 0) continue;
    const item = amazon ? `B00${rng.int(90)}X` : String(1 + rng.int(90));
    const time = 1000 + rng.int(60); // many ties
    rows.push(`${amazon ? 'A' : ''}${u},${item},${1 + rng.int(5)}.0,${time}${amazon ? ',' : ''}`);
  }
  rows.splice(5, 0, amazon ? 'A0,B00x,5.0,1,' : '0,1,5.0,1');
  rows.splice(9, 0, amazon ? 'A1,B00y,5.0,2,' : '1,2,5.0,2', amazon ? 'A1,B00z,5.0,1,' : '1,3,5.0,1');
  return rows.join('\n') + '\n';
}

describe.skipIf(!!skipReason)(
  `buildDuetSplit matches make_duet_data.py${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
    it('on a --seq file, with defaults and with other widths and negatives', async () => {
      const file = writeFixture(dir, 'seq.txt', seqFixture());
      const ours = await compare('--seq', file, {});
      expect(ours.protocol.users).toBeLessThan(40); // some users were dropped
      expect(ours.train.size).toBeGreaterThan(100);
      await compare('--seq', file, { maxLen: 5, triggerLen: 3, trainNeg: 2, testNeg: 4, seed: 3 });
    });

    it('on a ratings file with a header, ties and short users', async () => {
      const file = writeFixture(dir, 'ratings.csv', ratingsFixture(false));
      const ours = await compare('--ratings', file, { maxLen: 8, triggerLen: 4 });
      expect(ours.protocol.users).toBe(22);
    });

    it('on a raw Amazon ratings file (trailing comma, no header)', async () => {
      await compare('--ratings', writeFixture(dir, 'amazon.csv', ratingsFixture(true)), { testNeg: 9 });
    });

    it('on counts when test users are sampled and train rows capped', async () => {
      const file = writeFixture(dir, 'seq2.txt', seqFixture());
      const out = path.join(dir, 'py-capped');
      runPython(['--seq', file], out, ['--max-test-users', '7', '--max-train-rows', '50']);
      const py = await readDuetSplit(out);
      const ours = buildDuetSplit(await readSequenceFile(file),
        { maxTestUsers: 7, maxTrainRows: 50, source: 'seq2.txt' });
      expect(ours.protocol).toEqual(py.protocol);
      expect([ours.train.size, ours.test.size]).toEqual([py.train.size, py.test.size]);
    });
  });
