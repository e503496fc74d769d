import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDuetSplit, writeDuetFile, writeDuetSplit } from '../../src/data/duet_split_io.js';
import { readDuetFile } from '../../src/data/read_duet_file.js';
import { splitValidation } from '../../src/data/split_validation.js';
import { synthetic } from '../../src/data/synthetic.js';
import { sameDataset, tmpDir, writeFixture } from './fixtures.js';

const dir = tmpDir();

describe('writeDuetSplit / readDuetSplit', () => {
  it('round-trips a split in the authors\' format', async () => {
    const split = synthetic({ users: 40, items: 120, testNeg: 9, seed: 4 });
    const out = path.join(dir, 'nested', 'split');
    await writeDuetSplit(out, split);
    expect(fs.readdirSync(out).sort()).toEqual(['protocol.json', 'test.txt', 'train.txt']);
    const firstLine = fs.readFileSync(path.join(out, 'test.txt'), 'utf8').split('\n')[0];
    expect(firstLine).toMatch(/^1;\d+;(\d+,){9}\d+;(\d+,){29}\d+;1$/);
    const back = await readDuetSplit(out);
    expect(sameDataset(back.train, split.train)).toBe(true);
    expect(sameDataset(back.test, split.test)).toBe(true);
    expect(back.protocol).toEqual(split.protocol);
    // The test set read back is still a test set.
    expect(() => splitValidation(back.test, 0.2)).toThrow(/is a test set/);
  });

  it('aligns the vocabulary across files and works without protocol.json', async () => {
    const out = path.join(dir, 'bare');
    fs.mkdirSync(out);
    writeFixture(out, 'train.txt', '1;2;1;1,0;1\n1;3;1;1,0;0\n');
    writeFixture(out, 'test.txt', '2;9;4;4,5;1\n');
    const { train, test, protocol } = await readDuetSplit(out);
    expect(protocol).toBeUndefined();
    expect([train.numItems, test.numItems, train.numUsers, test.numUsers]).toEqual([9, 9, 2, 2]);
  });

  it('rejects mismatched widths and ids beyond protocol.json', async () => {
    const out = path.join(dir, 'bad');
    fs.mkdirSync(out);
    writeFixture(out, 'train.txt', '1;2;1;1,0;1\n');
    writeFixture(out, 'test.txt', '2;9;4;4,5,0;1\n');
    await expect(readDuetSplit(out)).rejects.toThrow(/different widths .*train\.txt has click 2/);
    writeFixture(out, 'test.txt', '2;9;4;4,5;1\n');
    writeFixture(out, 'protocol.json', JSON.stringify({ items: 5, users: 2 }));
    await expect(readDuetSplit(out)).rejects.toThrow(/found item id 9 .* protocol\.json says there are 5 items/);
  });

  it('writes fractional labels so they read back exactly', async () => {
    const ds = await readDuetFile(writeFixture(dir, 'soft.txt', '1;2;1;1;0.3\n1;2;1;1;1\n'));
    const file = path.join(dir, 'soft-out.txt');
    await writeDuetFile(file, ds);
    expect(fs.readFileSync(file, 'utf8')).toBe('1;2;1;1;0.3\n1;2;1;1;1\n');
  });
});

describe('writeDuetFile', () => {
  it('reports a path it cannot write instead of hanging', async () => {
    const { test } = synthetic({ users: 5, items: 50, testNeg: 1 });
    await expect(writeDuetFile(path.join(dir, 'no', 'such', 'dir', 'x.txt'), test)).rejects.toThrow(
      /'writeDuetFile' cannot write '.*x\.txt': ENOENT/);
  });
});
