import { describe, expect, it } from 'vitest';
import { iterateDuetRows, readDuetFile } from '../../src/data/read_duet_file.js';
import { rowText, tmpDir, writeFixture } from './fixtures.js';

const dir = tmpDir();

describe('readDuetFile', () => {
  it('reads rows into columns (CRLF, blank lines, trailing newline)', async () => {
    const file = writeFixture(dir, 'ok.txt',
      '1;7;5,6,0;5,6,0,0;1\r\n\r\n2;3;1,2,4;9,1,2,4;0\r\n  \n1;8;5,6,7;5,6,7,0;0.5\n');
    const ds = await readDuetFile(file);
    expect(ds.size).toBe(3);
    expect(ds.triggerLength).toBe(3);
    expect(ds.clickLength).toBe(4);
    expect(Array.from(ds.user)).toEqual([1, 2, 1]);
    expect(Array.from(ds.target)).toEqual([7, 3, 8]);
    expect(Array.from(ds.trigger)).toEqual([5, 6, 0, 1, 2, 4, 5, 6, 7]);
    expect(Array.from(ds.click)).toEqual([5, 6, 0, 0, 9, 1, 2, 4, 5, 6, 7, 0]);
    expect(Array.from(ds.label)).toEqual([1, 0, 0.5]);
    expect(ds.numItems).toBe(9);
    expect(ds.numUsers).toBe(2);
  });

  it('stops after maxRows', async () => {
    const file = writeFixture(dir, 'many.txt',
      Array.from({ length: 50 }, (_, i) => `${i + 1};2;1;1,0;1`).join('\n'));
    const ds = await readDuetFile(file, { maxRows: 5 });
    expect(ds.size).toBe(5);
    expect(Array.from(ds.user)).toEqual([1, 2, 3, 4, 5]);
    expect((await readDuetFile(file)).size).toBe(50);
  });

  it('grows past its initial capacity', async () => {
    const n = 3000;
    const file = writeFixture(dir, 'grow.txt', Array.from({ length: n },
      (_, i) => `${i};${i};${i},${i + 1};${i},${i + 1},${i + 2};${i % 2}`).join('\n') + '\n');
    const ds = await readDuetFile(file);
    expect(ds.size).toBe(n);
    expect(rowText(ds, n - 1)).toBe(`${n - 1};${n - 1};${n - 1},${n};${n - 1},${n},${n + 1};1`);
  });

  it('names file and line for a wrong field count', async () => {
    const file = writeFixture(dir, 'fields.txt', '1;2;3;4;1\n\n1;2;3\n');
    await expect(readDuetFile(file)).rejects.toThrow(
      `${file}:3: expected 5 ';'-separated fields, got 3 (in 'readDuetFile')`);
  });

  it('names the bad item, id or label', async () => {
    const bad = async (name: string, text: string) =>
      readDuetFile(writeFixture(dir, name, text)).then(() => '', (e: Error) => e.message);
    expect(await bad('item.txt', '1;2;3,4;3,x,0;1\n')).toMatch(
      /item\.txt:1: click_seq item 2 must be a non-negative integer, got 'x'/);
    expect(await bad('empty.txt', '1;2;3,4;3,4,;1\n')).toMatch(
      /empty\.txt:1: click_seq item 3 must be a non-negative integer, got ''/);
    expect(await bad('neg.txt', '1;2;3;1\n1;-2;3;3;1\n')).toMatch(/neg\.txt:1: expected 5/);
    expect(await bad('target.txt', '1;2;3;3;1\n1;-2;3;3;1\n')).toMatch(
      /target\.txt:2: target must be a non-negative integer, got '-2'/);
    expect(await bad('label.txt', '1;2;3;3;yes\n')).toMatch(/label\.txt:1: label must be a number, got 'yes'/);
    expect(await bad('big.txt', '1;2;3;99999999999;1\n')).toMatch(/click_seq item 1 must be a non-negative integer/);
  });

  it('requires every row to have the widths of the first', async () => {
    const file = writeFixture(dir, 'width.txt', '\n1;2;3,4;3,4,0;1\n1;2;3,4;3,4;1\n');
    await expect(readDuetFile(file)).rejects.toThrow(
      `${file}:3: click_seq has 2 items, but line 2 has 3; all rows must have the same widths`);
  });

  it('names a missing file', async () => {
    await expect(readDuetFile(`${dir}/nope.txt`)).rejects.toThrow(/'readDuetFile' cannot read '.*nope\.txt'/);
  });

  it('reads an empty file as an empty dataset', async () => {
    const ds = await readDuetFile(writeFixture(dir, 'blank.txt', '\n'));
    expect(ds.size).toBe(0);
    expect(ds.click.length).toBe(0);
  });
});

describe('iterateDuetRows', () => {
  it('yields rows with their line numbers and stops early on break', async () => {
    const file = writeFixture(dir, 'iter.txt', '1;2;3;3,0;1\r\n\r\n4;5;6,7;6,7,8;0\r\n9;9;9;9;x\r\n');
    const rows = [];
    for await (const row of iterateDuetRows(file)) {
      rows.push(row);
      if (rows.length === 2) break; // the bad third row is never parsed
    }
    expect(rows.map((r) => r.line)).toEqual([1, 3]);
    expect(Array.from(rows[1].click)).toEqual([6, 7, 8]);
    expect(rows[1].label).toBe(0);
    const all = async () => { for await (const _ of iterateDuetRows(file)) { /* drain */ } };
    await expect(all()).rejects.toThrow(/iter\.txt:4: label must be a number, got 'x' \(in 'iterateDuetRows'\)/);
  });
});
