import { describe, expect, it } from 'vitest';
import { readRatings } from '../../src/data/read_ratings.js';
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
    expect(await readRatings(file)).toEqual([
      { user: '2', items: ['51', '50', '52'] },
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
    expect(await readRatings(file)).toEqual([
      { user: 'A1', items: ['0205616461', '0737104473', '0733001998'] },
      { user: 'A2', items: ['0558925278'] },
    ]);
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
