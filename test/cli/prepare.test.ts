import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readDuetSplit } from '../../src/data/duet_split_io';
import { synthetic } from '../../src/data/synthetic';
import { cli, lastJson } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-prepare-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('duet-tf prepare', () => {
  it('builds a split from a ratings CSV and prints the protocol as JSON', async () => {
    const csv = path.join(dir, 'ratings.csv');
    const rows = ['userId,movieId,rating,timestamp'];
    for (let u = 1; u <= 4; u++) for (let t = 0; t < 6; t++) rows.push(`${u},${(u * 3 + t) % 10},4.0,${1000 + t}`);
    fs.writeFileSync(csv, `${rows.join('\n')}\n`);
    const out = path.join(dir, 'split');
    const r = await cli('prepare', '--ratings', csv, '--out', out, '--test-neg', '3', '--json');
    // Every rating is 4.0 (no explicit feedback to filter on), and 16 positives are too few.
    expect(r.stderr).toBe('prepare: warning: the training set is too small to learn from: 4 users, ' +
      '32 training rows, 16 positives for 10 items (1.6 per item; a model needs at least 1000 ' +
      'positives and 2 per item to do better than chance): use more data\n');
    expect(r.code).toBe(0);
    const result = lastJson(r.stdout);
    expect(result).toMatchObject({ protocol: 'duet-seq-v1', users: 4, train_rows: 4 * 4 * 2, test_rows: 4 * 4, test_neg: 3, source: 'ratings.csv', min_rating: null });
    expect(fs.readdirSync(out).sort()).toEqual(['items.tsv', 'protocol.json', 'test.txt', 'train.txt', 'users.tsv']);
    expect(fs.readFileSync(path.join(out, 'users.tsv'), 'utf8')).toBe('index\tid\n1\t1\n2\t2\n3\t3\n4\t4\n');
    const firstTest = fs.readFileSync(path.join(out, 'test.txt'), 'utf8').split('\n')[0].split(';');
    expect(firstTest).toHaveLength(5);
    expect(firstTest[3].split(',')).toHaveLength(30);
  });

  it('writes the synthetic data set with --synthetic, the same as synthetic() gives', async () => {
    const out = path.join(dir, 'synthetic');
    const r = await cli('prepare', '--synthetic', '--users', '30', '--items', '40', '--clusters', '4', '--seed', '3',
      '--test-neg', '9', '--out', out, '--json');
    expect(r.stderr).toMatch(/^prepare: warning: the training set is too small to learn from: 30 users, \d+ training rows/);
    expect(r.code).toBe(0);
    // Synthetic ids are 1..N already: the maps say so.
    expect((await readDuetSplit(out)).items?.originals).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 1)));
    const expected = synthetic({ users: 30, items: 40, clusters: 4, seed: 3, testNeg: 9 });
    expect(lastJson(r.stdout)).toMatchObject({ ...expected.protocol, out });
    const written = await readDuetSplit(out);
    expect(written.train.size).toBe(expected.train.size);
    expect(Array.from(written.train.click)).toEqual(Array.from(expected.train.click));
    expect(Array.from(written.test.label)).toEqual(Array.from(expected.test.label));
  });

  it('keeps the rows rated at least --min-rating (default: 4 of 5 on an explicit table), saying how many', async () => {
    const csv = path.join(dir, 'stars.csv');
    // Users u1..u3 rate 8 items each: ratings cycle 1..5, so 3 of every 8 rows are 4 or 5 stars.
    const rows = ['user,item,rating,time'];
    for (let u = 1; u <= 3; u++) for (let t = 0; t < 8; t++) rows.push(`u${u},item-${(u * 7 + t) % 20},${1 + ((u + t) % 5)},${t}`);
    fs.writeFileSync(csv, `${rows.join('\n')}\n`);
    const kept = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').length - 1;
    const auto = await cli('prepare', '--ratings', csv, '--out', path.join(dir, 'stars'), '--test-neg', '1', '--json');
    expect(auto.code).toBe(0);
    const highRated = rows.slice(1).filter((r) => Number(r.split(',')[2]) >= 4);
    expect(auto.stderr.split('\n')[0]).toBe(`prepare: kept ${highRated.length} of 24 rows as positives (rated at least 4; ` +
      `--min-rating), dropped ${24 - highRated.length}`);
    expect(lastJson(auto.stdout)).toMatchObject({ min_rating: 4, users: 3 });
    // Only items someone rated 4 or 5 are in the catalogue.
    expect(kept(path.join(dir, 'stars', 'items.tsv'))).toBe(new Set(highRated.map((r) => r.split(',')[1])).size);
    const all = await cli('prepare', '--ratings', csv, '--out', path.join(dir, 'all'), '--min-rating', 'none', '--json');
    expect(lastJson(all.stdout)).toMatchObject({ min_rating: null, items: 20 });
    const two = await cli('prepare', '--ratings', csv, '--out', path.join(dir, 'two'), '--min-rating', '2', '--json');
    const rated2 = rows.slice(1).filter((r) => Number(r.split(',')[2]) >= 2).length;
    expect(two.stderr).toMatch(new RegExp(`^prepare: kept ${rated2} of 24 rows`));
    expect((await cli('prepare', '--ratings', csv, '--out', dir, '--min-rating', 'high')).stderr)
      .toBe("duet-tf: prepare: --min-rating must be a number, 'auto' or 'none', got 'high'\n");
    expect((await cli('prepare', '--seq', csv, '--out', dir, '--min-rating', '4')).stderr)
      .toBe('duet-tf: prepare: --min-rating needs --ratings\n');
  });

  it('refuses data with no usable users: empty, header only, or nothing left after --min-rating', async () => {
    const write = (name: string, text: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const cases: Array<[string, string[], RegExp]> = [
      [write('empty.csv', ''), [], /no usable users in '.*empty\.csv': 0 rows, 0 users; a user needs at least 3 interactions/],
      [write('header.csv', 'userId,movieId,rating,timestamp\n'), [], /no usable users in '.*header\.csv': 0 rows, 0 users/],
      [write('short.csv', 'a,x,5,1\na,y,5,2\nb,x,5,1\n'), [], /no usable users in '.*short\.csv': 3 rows, 2 users;/],
      [write('low.csv', 'a,x,1,1\na,y,2,2\na,z,5,3\na,w,1,4\n'), [],
        /no usable users in '.*low\.csv': 4 rows, 1 user after dropping the 3 rows rated below 4 \(--min-rating\)/],
      [write('empty.txt', '\n\n'), ['--seq'], /no usable users in '.*empty\.txt': 0 user lines/],
    ];
    for (const [file, flags, message] of cases) {
      const r = await cli('prepare', ...(flags.length ? [flags[0], file] : ['--ratings', file]), '--out', path.join(dir, 'none'));
      expect(r.code, file).toBe(1);
      expect(r.stderr, file).toMatch(message);
      expect(r.stderr.trim().split('\n'), file).toHaveLength(1);
    }
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
  });

  it('reports bad arguments and files on one line with a non-zero exit', async () => {
    const missing = await cli('prepare', '--seq', path.join(dir, 'nope.txt'), '--out', dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^duet-tf: 'readSequenceFile' cannot read '.*nope\.txt'/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect((await cli('prepare', '--out', dir)).stderr).toBe('duet-tf: prepare: give exactly one of --seq FILE, --ratings FILE or --synthetic\n');
    expect((await cli('prepare', '--synthetic', '--seq', 'x', '--out', dir)).stderr).toBe('duet-tf: prepare: give exactly one of --seq FILE, --ratings FILE or --synthetic\n');
    expect((await cli('prepare', '--seq', 'x', '--users', '5', '--out', dir)).stderr).toBe('duet-tf: prepare: --users needs --synthetic\n');
    expect((await cli('prepare', '--seq', 'x', '--out', dir, '--max-len', 'ten')).stderr)
      .toBe("duet-tf: prepare: --max-len must be an integer, got 'ten'\n");
    expect((await cli('prepare', '--seq', 'x')).stderr).toBe('duet-tf: prepare: --out is required (output folder)\n');
    const unknown = await cli('prepare', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^duet-tf: prepare: Unknown option '--bogus'/);
    expect((await cli('fly')).stderr).toMatch(/^duet-tf: unknown command 'fly'/);
  });
});
