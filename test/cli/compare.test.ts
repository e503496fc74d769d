import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { synthetic } from '../../src/data/synthetic';
import { writeDuetSplit } from '../../src/data/duet_split_io';
import { cli } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-compare-'));
const KEYS = ['model', 'variant', 'backend', 'epochs', 'auc', 'uauc', 'logloss', 'ndcg@5', 'hr@5',
  'ndcg@10', 'hr@10', 'ndcg@20', 'hr@20', 'train_samples_per_s', 'infer_samples_per_s'];

beforeAll(async () => {
  await writeDuetSplit(dir, synthetic({
    users: 12, items: 30, seed: 2, testNeg: 4, maxSeq: 8, clickLength: 6, triggerLength: 3,
  }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('duet-tf compare', () => {
  it('prints base, finetune and duet as one JSON line each, with the adaptation cost', async () => {
    const r = await cli('compare', '--model', 'gru4rec', '--data', dir, '--epochs', '1', '--batch', '64',
      '--dim', '8', '--backend', 'cpu', '--finetune-users', '5', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.variant)).toEqual(['base', 'finetune', 'duet']);
    for (const line of lines) {
      for (const key of KEYS) expect(line, key).toHaveProperty(key);
      expect(line).toMatchObject({ model: 'gru4rec', backend: 'cpu', epochs: 1, seed: 0 });
      for (const key of KEYS.slice(4, 13)) expect(typeof line[key], key).toBe('number');
    }
    const [base, finetune, duet] = lines;
    expect(base).not.toHaveProperty('adapt_ms_per_user');
    expect(base.users).toBe(12);
    expect(finetune.users).toBe(5); // --finetune-users: a subset
    expect(finetune.adapt_ms_per_user).toBeGreaterThan(0);
    expect(finetune.infer_samples_per_s).toBeNull();
    expect(duet).toMatchObject({ users: 12, adapt_batch: 1, duet_from: 'scratch' }); // the default: as many passes as base
    expect(duet.adapt_ms_per_user).toBeGreaterThan(0);
    expect(duet.adapt_ms_per_user_batched).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/gru4rec base: epoch 1\/1[^\n]*\ngru4rec finetune: [^\n]*\ngru4rec duet: epoch 1\/1/);
    for (const line of lines) {
      expect(line).not.toHaveProperty('model_options');
      expect(line).not.toHaveProperty('generator_lr');
    }
  });

  it('prints a table without --json, produces only the --variants asked for, rejects others', async () => {
    const r = await cli('compare', '--model', 'din', '--data', dir, '--epochs', '1', '--batch', '64',
      '--dim', '8', '--backend', 'cpu', '--variants', 'base');
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0].split(/\s+/)).toEqual(['variant', 'auc', 'uauc', 'logloss', 'ndcg@10', 'hr@10', 'adapt_ms_per_user']);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^base\s+0\.\d{4}\s/);
    const scratch = await cli('compare', '--model', 'gru4rec', '--data', dir, '--epochs', '1', '--batch', '64',
      '--dim', '8', '--backend', 'cpu', '--variants', 'duet', '--json');
    expect(scratch.code).toBe(0);
    expect(scratch.stdout.trim().split('\n').map((l) => JSON.parse(l).duet_from)).toEqual(['scratch']);
    const fromBase = await cli('compare', '--model', 'gru4rec', '--data', dir, '--epochs', '1', '--batch', '64',
      '--dim', '8', '--backend', 'cpu', '--variants', 'base,duet', '--duet-from', 'base', '--json',
      '--generator-lr', '0.01', '--model-options', '{"generator":{"conditionDropout":0.5}}');
    const fromBaseRows = fromBase.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(fromBaseRows.map((l) => l.duet_from)).toEqual([undefined, 'base']);
    // Rows carry what was set beside the defaults: the model options on each, the generator's rate on DUET's.
    for (const row of fromBaseRows) expect(row.model_options).toEqual({ generator: { conditionDropout: 0.5 } });
    expect(fromBaseRows.map((l) => l.generator_lr)).toEqual([undefined, 0.01]);
    expect(fromBase.stderr).toMatch(/gru4rec base: epoch 1\/1[^\n]*\ngru4rec duet: epoch 1\/1/);
    // DUET alone from scratch reads no base model, so none is trained.
    expect(scratch.stderr).not.toMatch(/gru4rec base: epoch/);
    expect(scratch.stderr).toMatch(/gru4rec duet: epoch 1\/1/);
    const bad = await cli('compare', '--model', 'din', '--data', dir, '--epochs', '1', '--variants', 'base,meta');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("duet-tf: compare: --variants must list some of base, finetune, duet, got 'base,meta'\n");
  });
});
