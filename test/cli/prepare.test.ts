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
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = lastJson(r.stdout);
    expect(result).toMatchObject({ protocol: 'duet-seq-v1', users: 4, train_rows: 4 * 4 * 2, test_rows: 4 * 4, test_neg: 3, source: 'ratings.csv' });
    expect(fs.readdirSync(out).sort()).toEqual(['protocol.json', 'test.txt', 'train.txt']);
    const firstTest = fs.readFileSync(path.join(out, 'test.txt'), 'utf8').split('\n')[0].split(';');
    expect(firstTest).toHaveLength(5);
    expect(firstTest[3].split(',')).toHaveLength(30);
  });

  it('writes the synthetic data set with --synthetic, the same as synthetic() gives', async () => {
    const out = path.join(dir, 'synthetic');
    const r = await cli('prepare', '--synthetic', '--users', '30', '--items', '40', '--clusters', '4', '--seed', '3',
      '--test-neg', '9', '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const expected = synthetic({ users: 30, items: 40, clusters: 4, seed: 3, testNeg: 9 });
    expect(lastJson(r.stdout)).toMatchObject({ ...expected.protocol, out });
    const written = await readDuetSplit(out);
    expect(written.train.size).toBe(expected.train.size);
    expect(Array.from(written.train.click)).toEqual(Array.from(expected.train.click));
    expect(Array.from(written.test.label)).toEqual(Array.from(expected.test.label));
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
