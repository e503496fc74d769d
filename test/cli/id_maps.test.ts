/**
 * The id maps through the CLI: `prepare` writes items.tsv / users.tsv beside the split, `train`
 * copies the item map into the model folder (and a model trained on data without one has none).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readItemMap } from '../../src/data/id_map';
import { synthetic } from '../../src/data/synthetic';
import { writeDuetSplit } from '../../src/data/duet_split_io';
import { cli } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-maps-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('id maps through prepare and train', () => {
  it('prepare writes the maps of a string-keyed table; train copies items.tsv into the model', async () => {
    const csv = path.join(dir, 'ratings.csv');
    const rows = ['user,item,rating,timestamp'];
    for (let u = 0; u < 8; u++) for (let t = 0; t < 6; t++) rows.push(`user-${u},sku-${(u * 5 + t * 3) % 17},5,${t}`);
    fs.writeFileSync(csv, `${rows.join('\n')}\n`);
    const data = path.join(dir, 'data');
    expect((await cli('prepare', '--ratings', csv, '--out', data, '--test-neg', '2', '--max-len', '5',
      '--trigger-len', '2')).code).toBe(0);
    const items = await readItemMap(data);
    expect(items?.originals[0]).toBe('sku-0');
    expect(items?.originals.every((id) => /^sku-\d+$/.test(id))).toBe(true);
    const model = path.join(dir, 'model');
    const r = await cli('train', '--model', 'gru4rec', '--data', data, '--epochs', '1', '--batch', '64',
      '--dim', '4', '--backend', 'cpu', '--out', model);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(model, 'items.tsv'), 'utf8')).toBe(fs.readFileSync(path.join(data, 'items.tsv'), 'utf8'));

    // Retrained into the same folder (--force) on data without a map: the stale map goes.
    const bare = path.join(dir, 'bare');
    await writeDuetSplit(bare, synthetic({ users: 8, items: 20, clickLength: 5, triggerLength: 2, testNeg: 2 }));
    expect((await cli('train', '--model', 'gru4rec', '--data', bare, '--epochs', '1', '--batch', '64',
      '--dim', '4', '--backend', 'cpu', '--out', model, '--force')).code).toBe(0);
    expect(fs.existsSync(path.join(model, 'items.tsv'))).toBe(false);
  }, 60_000);
});
