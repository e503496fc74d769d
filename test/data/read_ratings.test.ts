import { describe, expect, it } from 'vitest';
import { readRatings, readRatingsTable } from '../../src/data/read_ratings.js';
import { tmpDir, writeFixture } from './fixtures.js';

const dir = tmpDir();

describe('readRatings', () => {
  it('reads MovieLens: header, users by first appearance, items by time, ties in file order', async () => {
    const file = writeFixture(dir, 'ml.csv', [
      'userId,movieId,rating,timestamp',
      '2,50,4.0,300',
      '1,10,4.0,200',
      '2,51,3.0,100',
      '1,11,5.0,200',
      '1,12,5.0,100',
      '2,52,1.0,300',
    ].join('\r\n') + '\r\n');
    expect(await readRatings(file, { minRating: null })).toEqual([
      { user: '2', items: ['51', '50', '52'] },
      { user: '1', items: ['12', '10', '11'] },
    ]);
    // By default an explicit-feedback table keeps its rows rated 4 of 5 or more.
    expect(await readRatings(file)).toEqual([
      { user: '2', items: ['50'] },
      { user: '1', items: ['12', '10', '11'] },
    ]);
  });

  it('reads the raw Amazon format (trailing comma, no header)', async () => {
    const file = writeFixture(dir, 'amazon.csv', [
      'A1,0205616461,5.0,1369699200,',
      'A2,0558925278,4.0,1355443200,',
      'A1,0733001998,4.0,1404691200,',
      '',
      'A1,0737104473,1.0,1382572800,',
    ].join('\n'));
    expect(await readRatings(file, { minRating: null })).toEqual([
      { user: 'A1', items: ['0205616461', '0737104473', '0733001998'] },
      { user: 'A2', items: ['0558925278'] },
    ]);
  });

  it('reads ratings: the default threshold, a given one, the rating column by name, index or none', async () => {
    const rows = ['user,item,stars,rating,time', 'a,x,9,1,1', 'a,y,9,5,2', 'a,z,1,4,3', 'b,x,1,2,1', 'b,w,1,3,2'];
    const file = writeFixture(dir, 'stars.csv', rows.join('\n'));
    const { users, summary } = await readRatingsTable(file, { time: 'time' });
    expect(users).toEqual([{ user: 'a', items: ['y', 'z'] }]);
    expect(summary).toEqual({ rows: 5, ratingColumn: 3, minRating: 4, kept: 2, dropped: 3, users: 1 });
    expect((await readRatingsTable(file, { time: 'time', minRating: 2 })).summary)
      .toMatchObject({ minRating: 2, kept: 4, users: 2 });
    // 'stars' on a 1..9 scale: positives are 9 >= 0.8 x 9 = 7.2.
    expect(await readRatingsTable(file, { time: 'time', rating: 'stars' })).toMatchObject({
      users: [{ user: 'a', items: ['x', 'y'] }], summary: { ratingColumn: 2, minRating: 7.2 },
    });
    expect((await readRatingsTable(file, { time: 'time', rating: null })).summary)
      .toEqual({ rows: 5, ratingColumn: null, minRating: null, kept: 5, dropped: 0, users: 2 });
    // One rating throughout (implicit data exported with a constant): every row is kept.
    const constant = writeFixture(dir, 'ones.csv', 'a,x,1,1\na,y,1,2\nb,z,1,1\n');
    expect((await readRatingsTable(constant)).summary).toMatchObject({ ratingColumn: 2, minRating: null, kept: 3 });
    // No header, three columns, time in column 2: no rating column at all.
    const implicit = writeFixture(dir, 'clicks.csv', 'a,x,1\na,y,2\n');
    expect((await readRatingsTable(implicit, { time: 2 })).summary).toMatchObject({ ratingColumn: null, kept: 2 });
    const bad = writeFixture(dir, 'badrating.csv', 'a,x,good,1\n');
    await expect(readRatings(bad)).rejects.toThrow(/badrating\.csv:1: rating \(column 2\) must be a number, got 'good'/);
    await expect(readRatings(file, { minRating: 'high' as unknown as number }))
      .rejects.toThrow("'minRating' passed to 'readRatings' must be a number, 'auto' or null, got \"high\"");
  });

  it('detects tabs and semicolons and selects columns by name or index', async () => {
    const tsv = writeFixture(dir, 'events.tsv',
      'ts\tvisitor\tsku\n5\tv1\ta\n3\tv1\tb\n4\tv2\tc\n');
    expect(await readRatings(tsv, { user: 'visitor', item: 'SKU', time: 'ts' })).toEqual([
      { user: 'v1', items: ['b', 'a'] },
      { user: 'v2', items: ['c'] },
    ]);
    const semi = writeFixture(dir, 'events.txt', 'a;x;1\nb;y;0\na;z;0\n');
    expect(await readRatings(semi, { time: 2, header: false })).toEqual([
      { user: 'a', items: ['z', 'x'] },
      { user: 'b', items: ['y'] },
    ]);
    expect(await readRatings(semi, { time: 2, delimiter: ';' })).toHaveLength(2);
  });

  it('treats a numeric first row as data under header: auto, and honours header: true', async () => {
    const file = writeFixture(dir, 'nohead.csv', '1,2,0,10\n1,3,0,5\n1,4,0,7\n');
    expect(await readRatings(file)).toEqual([{ user: '1', items: ['3', '4', '2'] }]);
    expect(await readRatings(file, { header: true })).toEqual([{ user: '1', items: ['3', '4'] }]);
  });

  it('reads double-quoted fields', async () => {
    const file = writeFixture(dir, 'quoted.csv',
      'user,item,rating,time\n"u, 1","say ""hi""",1,2\n"u, 1",plain,1,1\n');
    expect(await readRatings(file)).toEqual([{ user: 'u, 1', items: ['plain', 'say "hi"'] }]);
  });

  it('names file and line for malformed rows', async () => {
    const bad = async (name: string, text: string, opts = {}) =>
      readRatings(writeFixture(dir, name, text), opts).then(() => '', (e: Error) => e.message);
    expect(await bad('short.csv', 'u,i,r,t\n1,2,3,4\n1,2\n')).toMatch(
      /short\.csv:3: expected at least 4 ','-separated fields, got 2 \(in 'readRatings'\)/);
    expect(await bad('time.csv', '1,2,3,4\n1,2,3,soon\n')).toMatch(
      /time\.csv:2: time \(column 3\) must be a number, got 'soon'/);
    expect(await bad('tabs.tsv', 'u\ti\tr\tt\n1\t2\n')).toMatch(
      /tabs\.tsv:2: expected at least 4 tab-separated fields, got 2/);
    expect(await bad('noitem.csv', '1,,3,4\n')).toMatch(/noitem\.csv:1: item \(column 1\) is empty/);
    expect(await bad('names.csv', 'a,b,c,d\n1,2,3,4\n', { user: 'userId' })).toMatch(
      /names\.csv:1: no column named 'userId' \(for 'user'\) in the header: a, b, c, d/);
    expect(await bad('nodelim.csv', 'hello\n')).toMatch(/nodelim\.csv:1: cannot detect the delimiter/);
    expect(await bad('h.csv', 'a,b,c,d\n', { user: 'a', header: false })).toMatch(
      /selects a column by name, which needs a header, but 'header' is false/);
    expect(await bad('h.csv', 'a,b,c,d\n', { item: -1 })).toMatch(
      /'item' passed to 'readRatings' must be a 0-based column index or a header name, got -1/);
  });
});
