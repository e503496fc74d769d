import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildDuetSplit } from '../../src/data/build_duet_split.js';
import { readDuetSplit, writeDuetSplit } from '../../src/data/duet_split_io.js';
import {
  formatIdMap, IdMap, parseIdMap, readIdMap, readItemMap, writeIdMap,
} from '../../src/data/id_map.js';
import { tmpDir } from './fixtures.js';

const dir = tmpDir();

describe('IdMap', () => {
  it('maps original ids to indices 1..N and back; numbers are looked up by their text', () => {
    const map = new IdMap(['B001', '318', 'x y']);
    expect(map.size).toBe(3);
    expect(map.indexOf('B001')).toBe(1);
    expect(map.indexOf('318')).toBe(2);
    expect(map.indexOf(318)).toBe(2);
    expect(map.indexOf('x y')).toBe(3);
    expect(map.indexOf('b001')).toBeUndefined();
    expect(map.indexOf(NaN)).toBeUndefined();
    expect(map.originalOf(3)).toBe('x y');
    expect(map.originalOf(0)).toBeUndefined();
    expect(map.originalOf(4)).toBeUndefined();
    expect(IdMap.identity(3).originals).toEqual(['1', '2', '3']);
    expect(() => new IdMap(['a', ''])).toThrow("'originals[1]' passed to 'IdMap' must be a non-empty string");
    expect(() => new IdMap([1 as unknown as string])).toThrow("'originals[0]' passed to 'IdMap'");
  });

  it('round-trips through TSV, tabs, newlines and backslashes in ids included', async () => {
    const ids = ['plain', 'tab\there', 'new\nline', 'back\\slash', 'both\\t\t', 'ünïcödé'];
    const map = new IdMap(ids);
    const text = formatIdMap(map);
    expect(text.split('\n')[0]).toBe('index\tid');
    expect(text.split('\n')).toHaveLength(ids.length + 2); // header, one line each, final newline
    expect(parseIdMap(text, 'x').originals).toEqual(ids);
    const file = path.join(dir, 'items.tsv');
    await writeIdMap(file, map);
    expect((await readIdMap(file)).originals).toEqual(ids);
    expect((await readItemMap(dir))?.originals).toEqual(ids);
    expect(await readItemMap(path.join(dir, 'nowhere'))).toBeNull();
  });

  it('names the file and line of a malformed map', async () => {
    expect(() => parseIdMap('id\tindex\n', 'm.tsv')).toThrow("m.tsv:1: an id map starts with the header 'index<TAB>id'");
    expect(() => parseIdMap('index\tid\n1\ta\n3\tc\n', 'm.tsv')).toThrow("m.tsv:3: expected '2<TAB>id', got \"3\\tc\"");
    expect(() => parseIdMap('index\tid\n1\t\n', 'm.tsv')).toThrow('m.tsv:2: the id of index 1 is empty');
    await expect(readIdMap(path.join(dir, 'missing.tsv'))).rejects.toThrow("'readIdMap' cannot read");
  });
});

describe('id maps of a split', () => {
  const users = [
    { user: 'alice', items: ['B03', 'B01', 'B02', 'B03'] },
    { user: 'bob', items: ['B01'] }, // dropped: fewer than 3 interactions
    { user: 'carol', items: ['B04', 'B02', 'B05'] },
  ];

  it('buildDuetSplit maps items by first appearance and users in order, dropped users excluded', () => {
    const split = buildDuetSplit(users, { testNeg: 1 });
    expect(split.items.originals).toEqual(['B03', 'B01', 'B02', 'B04', 'B05']);
    expect(split.users.originals).toEqual(['alice', 'carol']);
    // The test row of carol (user 2) holds her last item, B05, under its index.
    const r = Array.from(split.test.user).indexOf(2);
    expect(split.items.originalOf(split.test.target[r])).toBe('B05');
  });

  it('writeDuetSplit writes items.tsv and users.tsv, readDuetSplit reads them back', async () => {
    const out = path.join(dir, 'split');
    await writeDuetSplit(out, buildDuetSplit(users, { testNeg: 1 }));
    expect(fs.readdirSync(out).sort()).toEqual(['items.tsv', 'protocol.json', 'test.txt', 'train.txt', 'users.tsv']);
    expect(fs.readFileSync(path.join(out, 'users.tsv'), 'utf8')).toBe('index\tid\n1\talice\n2\tcarol\n');
    const back = await readDuetSplit(out);
    expect(back.items?.originals).toEqual(['B03', 'B01', 'B02', 'B04', 'B05']);
    expect(back.users?.originals).toEqual(['alice', 'carol']);
    // A map that does not cover the split's ids is refused, naming the file.
    fs.writeFileSync(path.join(out, 'items.tsv'), 'index\tid\n1\tB03\n');
    await expect(readDuetSplit(out)).rejects.toThrow(/found item index 5 in '.*split', but items\.tsv maps only 1/);
  });
});
