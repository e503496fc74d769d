import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadData } from '../../src/cli/data_source';
import { MODEL_INFO_FILE } from '../../src/cli/model_dir';
import { synthetic } from '../../src/data/synthetic';
import { writeDuetSplit } from '../../src/data/duet_split_io';
import { IdMap, ITEM_MAP_FILE, writeIdMap } from '../../src/data/id_map';
import { loadDuet } from '../../src/wrap/file_io';
import { cli, lastJson } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-train-'));
const data = path.join(dir, 'data');
// Tiny on purpose: 12 users, 30 items, click sequences of 6, 4 negatives per test user.
const tiny = ['--data', data, '--epochs', '1', '--batch', '64', '--dim', '8', '--backend', 'cpu'];
const METRICS = ['auc', 'uauc', 'logloss', 'ndcg@5', 'hr@5', 'ndcg@10', 'hr@10', 'ndcg@20', 'hr@20'];

beforeAll(async () => {
  await writeDuetSplit(data, synthetic({
    users: 12, items: 30, seed: 1, testNeg: 4, maxSeq: 8, clickLength: 6, triggerLength: 3,
  }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('duet-tf train and eval', () => {
  it('trains a base model, saves it with duet-tf.json, and eval reloads and scores it', async () => {
    const out = path.join(dir, 'base');
    const r = await cli('train', '--model', 'gru4rec', ...tiny, '--out', out, '--json');
    expect(r.code).toBe(0);
    const result = lastJson(r.stdout);
    expect(result).toMatchObject({ model: 'gru4rec', variant: 'base', backend: 'cpu', epochs: 1, best_epoch: 1, out });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/gru4rec base: epoch 1\/1 loss \d\.\d{4}/);
    expect(fs.readdirSync(out).sort()).toEqual([MODEL_INFO_FILE, 'model.json', 'weights.bin']);
    const info = JSON.parse(fs.readFileSync(path.join(out, MODEL_INFO_FILE), 'utf8'));
    expect(info).toMatchObject({ format: 'duet-tf-model', numItems: 30, clickLength: 6, backend: 'cpu' });
    expect(info.config).toMatchObject({ model: 'gru4rec', variant: 'base', dim: 8, numItems: 30, clickLength: 6 });
    expect(info.training).toMatchObject({ epochs: 1, batch: 64, lr: 0.001, best_epoch: 1 });
    expect(info.training.history).toHaveLength(1);
    expect(info.training.history[0].loss).toBeCloseTo(result.loss as number, 10);

    const e = await cli('eval', '--model-dir', out, '--data', data, '--backend', 'cpu', '--json');
    expect(e.code).toBe(0);
    const report = lastJson(e.stdout);
    expect(report).toMatchObject({ model: 'gru4rec', variant: 'base', backend: 'cpu', users: 12, rows: 60 });
    for (const key of [...METRICS, 'train_samples_per_s', 'infer_samples_per_s']) {
      expect(typeof report[key], key).toBe('number');
    }
    // The saved model is the trained one: evaluating it again gives the same numbers.
    const again = lastJson((await cli('eval', '--model-dir', out, '--data', data, '--backend', 'cpu', '--json')).stdout);
    for (const key of METRICS) expect(again[key]).toBe(report[key]);
    // Without --json: key: value lines.
    const human = await cli('eval', '--model-dir', out, '--data', data, '--backend', 'cpu');
    expect(human.stdout).toMatch(/^model: gru4rec\nvariant: base\n/);

    // Training into an existing model is refused before any work, unless --force.
    const weights = fs.readFileSync(path.join(out, 'weights.bin'));
    const refused = await cli('train', '--model', 'gru4rec', ...tiny, '--seed', '5', '--out', out);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`duet-tf: train: --out '${out}' already holds a model (model.json, ${MODEL_INFO_FILE}); ` +
      'pass --force to replace it, or choose another folder\n');
    expect(fs.readFileSync(path.join(out, 'weights.bin')).equals(weights)).toBe(true);
    const forced = await cli('train', '--model', 'gru4rec', ...tiny, '--seed', '5', '--out', out, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'weights.bin')).equals(weights)).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith('.base'))).toEqual([]);
    // A folder of model versions is not a model folder: refused before training, with a hint.
    fs.mkdirSync(path.join(dir, 'versions', '4'), { recursive: true });
    const root = await cli('train', '--model', 'gru4rec', ...tiny, '--out', path.join(dir, 'versions'));
    expect(root.code).toBe(2);
    expect(root.stderr).toContain(`holds folders (4); write the model into a folder of its own (for a new version, e.g. '${path.join(dir, 'versions', '5')}')`);
  });

  it('trains DUET from scratch, from a base it trains first (--duet-from base), or from a saved base (--from-base)', async () => {
    const scratch = path.join(dir, 'duet-scratch');
    const sr = await cli('train', '--model', 'din', ...tiny, '--variant', 'duet', '--out', scratch, '--json');
    expect(sr.code).toBe(0);
    expect(sr.stderr).not.toMatch(/din base: epoch/);
    expect(sr.stderr).toMatch(/din duet: epoch 1\/1/);
    expect(lastJson(sr.stdout)).toMatchObject({ model: 'din', variant: 'duet', epochs: 1 });
    const scratchInfo = JSON.parse(fs.readFileSync(path.join(scratch, MODEL_INFO_FILE), 'utf8'));
    expect(scratchInfo.config.variant).toBe('duet');
    expect(scratchInfo).not.toHaveProperty('base');
    expect(scratchInfo.training.history).toHaveLength(1);
    const se = await cli('eval', '--model-dir', scratch, '--data', data, '--backend', 'cpu', '--json');
    expect(lastJson(se.stdout)).toMatchObject({ model: 'din', variant: 'duet', users: 12 });

    const out = path.join(dir, 'duet');
    const r = await cli('train', '--model', 'din', ...tiny, '--variant', 'duet', '--duet-from', 'base',
      '--generator-lr', '0.01', '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/din base: epoch 1\/1.*\n.*din duet: epoch 1\/1/s);
    expect(lastJson(r.stdout)).toMatchObject({ model: 'din', variant: 'duet' });
    const info = JSON.parse(fs.readFileSync(path.join(out, MODEL_INFO_FILE), 'utf8'));
    expect(info.config.variant).toBe('duet');
    expect(info.base.history).toHaveLength(1);
    // --generator-lr reaches the DUET run only (the base has no generator), and is recorded.
    expect(info.training.generator_lr).toBe(0.01);
    expect(info.base.generator_lr).toBeNull();
    expect(scratchInfo.training.generator_lr).toBeNull();
    expect((await loadDuet(out)).layers.map((l) => l.name)).toContain('duetGenerator');

    const base = path.join(dir, 'din-base');
    expect((await cli('train', '--model', 'din', ...tiny, '--out', base)).code).toBe(0);
    const fromBase = path.join(dir, 'duet-from-base');
    const f = await cli('train', '--model', 'din', ...tiny, '--variant', 'duet', '--from-base', base,
      '--out', fromBase, '--json');
    expect(f.code).toBe(0);
    expect(f.stderr).not.toMatch(/din base: epoch/);
    expect(JSON.parse(fs.readFileSync(path.join(fromBase, MODEL_INFO_FILE), 'utf8')).base).toEqual({ from: base });
    const e = await cli('eval', '--model-dir', fromBase, '--data', data, '--backend', 'cpu', '--json');
    expect(lastJson(e.stdout)).toMatchObject({ model: 'din', variant: 'duet', users: 12 });

    // The same rows under other item ids (an items.tsv the base was not trained with): its item
    // embeddings would score the wrong items, so it is refused before training.
    const relabelled = path.join(dir, 'data-relabelled');
    fs.cpSync(data, relabelled, { recursive: true });
    await writeIdMap(path.join(relabelled, ITEM_MAP_FILE), new IdMap(Array.from({ length: 30 }, (_, i) => `sku${i}`)));
    const other = path.join(dir, 'duet-other-items');
    const refused = await cli('train', '--model', 'din', '--data', relabelled, ...tiny.slice(2), '--variant', 'duet',
      '--from-base', base, '--out', other);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n').pop()).toBe(`duet-tf: train: --from-base '${base}' was trained with other item ids than ` +
      `'${relabelled}' (their items.tsv differ); train the base on this data`);
    expect(fs.existsSync(other)).toBe(false);
    const scored = await cli('eval', '--model-dir', base, '--data', relabelled, '--backend', 'cpu');
    expect(scored.code).toBe(2);
    expect(scored.stderr.trim().split('\n').pop()).toBe(`duet-tf: eval: the model in '${base}' was trained with other item ids ` +
      `than '${relabelled}' (their items.tsv differ); score it on the data it was trained on`);
  });

  it('trains on worker threads with --threads, saying so on the epoch line and in duet-tf.json', async () => {
    const out = path.join(dir, 'threads');
    const r = await cli('train', '--model', 'sasrec', ...tiny, '--batch', '16', '--threads', '2', '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/sasrec base: epoch 1\/1 loss \d\.\d{4} \(.* rows\/s, 2 threads\)/);
    const info = JSON.parse(fs.readFileSync(path.join(out, MODEL_INFO_FILE), 'utf8'));
    expect(info.training.threads).toBe(2);
    const bad = await cli('train', '--model', 'sasrec', ...tiny, '--threads', '0', '--out', out);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--threads/);
  }, 60_000);

  it('reports bad arguments, folders and files on one line with a non-zero exit', async () => {
    const oneLine = (r: { stderr: string }) => expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await cli('train', '--model', 'sasrec', '--data', path.join(dir, 'nope'), '--epochs', '1', '--out', dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`duet-tf: train: --data '${path.join(dir, 'nope')}' does not exist\n`);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    expect((await cli('train', '--model', 'sasrec', '--data', empty, '--epochs', '1', '--out', dir)).stderr)
      .toMatch(/^duet-tf: train: --data '.*empty' has no train\.txt/);
    expect((await cli('train', '--model', 'bert', '--data', data, '--epochs', '1', '--out', dir)).stderr)
      .toBe("duet-tf: train: --model must be one of sasrec, gru4rec, din, got 'bert'\n");
    expect((await cli('train', '--model', 'din', '--data', data, '--out', dir)).stderr)
      .toBe('duet-tf: train: --epochs is required (passes over the training rows; a seq-loo-v1 folder from prepare --protocol loo takes --max-epochs instead)\n');
    expect((await cli('train', '--model', 'din', ...tiny, '--out', dir, '--lr', '0')).stderr)
      .toBe('duet-tf: train: --lr must be a positive number, got 0\n');
    expect((await cli('train', '--model', 'din', ...tiny, '--out', dir, '--generator-lr', '0')).stderr)
      .toBe('duet-tf: train: --generator-lr must be a positive number, got 0\n');
    expect((await cli('train', '--model', 'din', ...tiny, '--out', dir, '--from-base', dir)).stderr)
      .toBe('duet-tf: train: --from-base needs --variant duet\n');
    const badJson = await cli('train', '--model', 'din', ...tiny, '--out', dir, '--model-options', '{dim');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^duet-tf: train: --model-options is not valid JSON/);
    oneLine(badJson);
    const badOption = await cli('train', '--model', 'din', ...tiny, '--out', dir, '--model-options', '{"mlpUnit":[4]}');
    expect(badOption.stderr).toMatch(/^duet-tf: train: unknown option 'mlpUnit' passed to 'din'; known: /);
    oneLine(badOption);

    const broken = path.join(dir, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'train.txt'), '1;2;3,4;5,6;1\n1;2;3,4;oops;1\n');
    fs.writeFileSync(path.join(broken, 'test.txt'), '1;2;3,4;5,6;1\n');
    const bad = await cli('train', '--model', 'din', '--data', broken, '--epochs', '1', '--out', dir, '--backend', 'cpu');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^duet-tf: .*broken\/train\.txt:2: click_seq item 1 must be a non-negative integer, got 'oops'/);
    oneLine(bad);

    const notModel = await cli('eval', '--model-dir', data, '--data', data);
    expect(notModel.code).toBe(1);
    expect(notModel.stderr).toBe(`duet-tf: eval: '${data}' has no duet-tf.json; it is not a model folder written by 'duet-tf train'\n`);
    expect((await cli('eval', '--data', data)).stderr).toMatch(/^duet-tf: eval: --model-dir is required/);
  });

  it("loads '--data synthetic' as the built-in synthetic split", async () => {
    const loaded = await loadData('train', 'synthetic', 100);
    const reference = synthetic();
    expect(loaded.train.size).toBe(100);
    expect(loaded.test.size).toBe(reference.test.size);
    expect(Array.from(loaded.train.target.subarray(0, 100))).toEqual(Array.from(reference.train.target.subarray(0, 100)));
    expect(loaded.numItems).toBe(reference.train.numItems);
    expect(loaded.source).toBe('synthetic');
  });
});
