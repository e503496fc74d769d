import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readSeqLooSplit } from '../../src/data/protocols/seq_loo_io';
import { popularityRanking } from '../../src/eval/full_ranking/popularity';
import { cli, lastJson } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-loo-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 60 users a line, items named `i<id>`, each walking a cycle of 40 items with its own stride. */
function sequenceFile(): string {
  const lines: string[] = [];
  for (let u = 1; u <= 60; u++) {
    const n = 5 + (u % 8);
    const items = Array.from({ length: n }, (_, t) => `i${1 + ((u * 7 + t * (1 + (u % 3))) % 40)}`);
    lines.push(`user${u} ${items.join(' ')}`);
  }
  lines.push('short i1 i2'); // 2 interactions: dropped
  const file = path.join(dir, 'sequences.txt');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const SMALL = ['--dim', '8', '--batch', '16', '--threads', '1', '--model-options', '{"numBlocks":1}'];

describe('duet-tf on seq-loo-v1 folders', () => {
  const out = path.join(dir, 'loo');

  it('prepare --protocol loo writes a seq-loo-v1 folder (default L = 50) and refuses duet-only options', async () => {
    const file = sequenceFile();
    const r = await cli('prepare', '--protocol', 'loo', '--seq', file, '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({
      protocol: 'seq-loo-v1', users: 60, dropped_users: 1, max_len: 50, source: 'sequences.txt',
    });
    expect(r.stderr).toMatch(/^prepare: warning: the training set is too small to learn from: 60 users/);
    expect(fs.readdirSync(out).sort()).toEqual(['items.tsv', 'protocol.json', 'sequences.txt', 'users.tsv']);
    const bad = await cli('prepare', '--protocol', 'loo', '--seq', file, '--out', path.join(dir, 'x'), '--test-neg', '9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('duet-tf: prepare: --test-neg does not apply to --protocol loo (every user is kept, nothing is sampled)\n');
    const l20 = await cli('prepare', '--protocol', 'loo', '--seq', file, '--out', path.join(dir, 'l20'), '--max-len', '20', '--json');
    expect(lastJson(l20.stdout).max_len).toBe(20);
  });

  it('compare trains base and DUET with early stopping and prints their test rows and the popularity floor', async () => {
    const r = await cli('compare', '--model', 'sasrec', '--data', out, '--max-epochs', '2', '--patience', '1', ...SMALL, '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((row) => row.variant)).toEqual(['base', 'duet', 'popularity']);
    for (const row of rows.slice(0, 2)) {
      for (const key of ['hr@5', 'ndcg@5', 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20', 'train_seconds']) {
        expect(typeof row[key], key).toBe('number');
      }
      expect(row.epochs as number).toBeGreaterThanOrEqual(1);
      expect(row.epochs as number).toBeLessThanOrEqual(2);
      // DUET is built from the trained base by default: its epoch 0 (the base) may stay the best.
      expect(row.best_epoch as number).toBeGreaterThanOrEqual(row.variant === 'duet' ? 0 : 1);
      expect(row.best_epoch as number).toBeLessThanOrEqual(row.epochs as number);
      expect(row).toMatchObject({ protocol: 'seq-loo-v1', users: 60, loss: 'ce', batch: 16, dim: 8, seed: 0 });
      expect((row.validation as Record<string, number>)['ndcg@10']).toBeGreaterThanOrEqual(0);
    }
    // The floor is the library's popularity ranking of the test targets.
    const popularity = popularityRanking(await readSeqLooSplit(out), 'test');
    expect(rows[2]['ndcg@10']).toBeCloseTo(popularity['ndcg@10'], 6);
    expect(rows[2]['hr@20']).toBeCloseTo(popularity['hr@20'], 6);
    // One line per epoch on stderr, with validation NDCG@10.
    expect(r.stderr).toMatch(/sasrec base: epoch 1 loss [\d.]+ validation ndcg@10 [\d.]+ hr@10/);
    expect(r.stderr).toMatch(/sasrec duet: epoch 1 /);
    expect(rows[1]).toMatchObject({ duet_from: 'base', static: 'frozen', generator_lr: 0.00005 });
  }, 120_000);

  it('train saves the best epoch of a DUET model from scratch; eval ranks its test targets as compare does', async () => {
    const model = path.join(dir, 'duet-model');
    const r = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--duet-from', 'scratch', '--data', out, '--max-epochs', '1', ...SMALL, '--out', model, '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ model: 'sasrec', variant: 'duet', protocol: 'seq-loo-v1', best_epoch: 1, epochs: 1 });
    // The epoch line says how many threads trained.
    expect(r.stderr).toMatch(/sasrec duet: epoch 1 loss \d\.\d{4} validation ndcg@10 .* positions\/s, 1 thread\)\n/);
    const info = JSON.parse(fs.readFileSync(path.join(model, 'duet-tf.json'), 'utf8'));
    expect(info.config.generator.condition).toBe('positions');
    expect(info.config.dynamicLayers).toEqual(['userTower1']);
    expect(info.training).toMatchObject({ protocol: 'seq-loo-v1', loss: 'ce', best_epoch: 1 });
    expect(fs.readFileSync(path.join(model, 'items.tsv'), 'utf8')).toBe(fs.readFileSync(path.join(out, 'items.tsv'), 'utf8'));
    const e = await cli('eval', '--model-dir', model, '--data', out, '--json');
    expect(e.code).toBe(0);
    const row = lastJson(e.stdout);
    expect(row).toMatchObject({ protocol: 'seq-loo-v1', part: 'test', users: 60, variant: 'duet' });
    const popularity = popularityRanking(await readSeqLooSplit(out), 'test');
    expect((row.popularity as Record<string, number>)['ndcg@10']).toBeCloseTo(popularity['ndcg@10'], 6);
    const v = await cli('eval', '--model-dir', model, '--data', out, '--part', 'validation', '--json');
    // The validation figure eval reports is the one train kept as its best.
    expect(lastJson(v.stdout)['ndcg@10']).toBeCloseTo(info.training.history[0].validation['ndcg@10'], 5);
  }, 120_000);

  it('compare --duet-from base builds DUET from the trained base: epoch 0 is the base itself', async () => {
    const r = await cli('compare', '--model', 'sasrec', '--data', out, '--max-epochs', '1', '--duet-from', 'base',
      '--static', 'trained', ...SMALL, '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    expect(r.code).toBe(0);
    const [base, duet] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(duet).toMatchObject({ variant: 'duet', duet_from: 'base', static: 'trained', epochs: 1 });
    expect(duet.base_train_seconds).toBe(base.train_seconds);
    // The DUET model starts as the base: its epoch-0 validation is the base's best.
    expect(duet.start_validation).toEqual(base.validation);
    expect(r.stderr).toMatch(/sasrec duet: epoch 0 \(the start\) validation ndcg@10 [\d.]+/);
    if (duet.best_epoch === 0) {
      // Nothing beat the start: DUET is the base, test row and all.
      for (const key of ['hr@10', 'ndcg@10', 'hr@20', 'ndcg@20']) expect(duet[key], key).toBe(base[key]);
    } else {
      expect(((duet.validation as Record<string, number>)['ndcg@10'])).toBeGreaterThan((base.validation as Record<string, number>)['ndcg@10']);
    }
  }, 120_000);

  it('train --from-base adds DUET to a saved seq-loo-v1 base; refuses what would change it', async () => {
    const baseDir = path.join(dir, 'base-model');
    const b = await cli('train', '--model', 'sasrec', '--data', out, '--max-epochs', '1', ...SMALL, '--out', baseDir, '--json');
    expect(b.code).toBe(0);
    const duetDir = path.join(dir, 'duet-from-base');
    const r = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--from-base', baseDir, '--data', out,
      '--max-epochs', '1', '--dim', '8', '--batch', '16', '--threads', '1', '--out', duetDir, '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    expect(r.code).toBe(0);
    const row = lastJson(r.stdout);
    expect(row).toMatchObject({ variant: 'duet', duet_from: 'base', static: 'frozen', epochs: 1 });
    expect(row.start_validation).toEqual(lastJson(b.stdout).validation);
    const info = JSON.parse(fs.readFileSync(path.join(duetDir, 'duet-tf.json'), 'utf8'));
    expect(info.config).toMatchObject({ variant: 'duet', towerLayers: 0, userAdapter: true, dynamicLayers: ['userAdapter'], numBlocks: 1 });
    expect(info.base).toEqual({ from: baseDir });
    const e = await cli('eval', '--model-dir', duetDir, '--data', out, '--json');
    expect(e.code).toBe(0);
    const arch = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--from-base', baseDir, '--data', out,
      '--model-options', '{"numBlocks":2}', '--out', path.join(dir, 'x1'));
    expect(arch.stderr).toBe(`duet-tf: train: --model-options 'numBlocks' would change the architecture of the base in '${baseDir}'; with --from-base only generator, dynamicLayers, residual, userAdapter apply\n`);
    const freeze = await cli('train', '--model', 'sasrec', '--data', out, '--static', 'frozen', '--out', path.join(dir, 'x2'));
    expect(freeze.stderr).toBe('duet-tf: train: --static needs --variant duet\n');
    const scratch = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--duet-from', 'scratch', '--static', 'frozen', '--data', out, '--out', path.join(dir, 'x4'));
    expect(scratch.stderr).toBe('duet-tf: train: --static applies to a DUET model built from a base (--duet-from base or --from-base DIR)\n');
    const order = await cli('compare', '--model', 'sasrec', '--data', out, '--variants', 'duet');
    expect(order.stderr).toBe('duet-tf: compare: DUET is built from the base of this run (--duet-from base, the default on a seq-loo-v1 folder): list base before duet in --variants, or pass --duet-from scratch\n');
    const bad = await cli('compare', '--model', 'sasrec', '--data', out, '--static', 'frozen', '--duet-from', 'scratch');
    expect(bad.stderr).toBe('duet-tf: compare: --static applies to a DUET model built from a base (--duet-from base)\n');
    // The same sequences with every item renamed: the same counts and L, other item ids.
    const renamed = path.join(dir, 'renamed.txt');
    fs.writeFileSync(renamed, fs.readFileSync(sequenceFile(), 'utf8').replace(/ i(\d+)/g, ' j$1'));
    const other = path.join(dir, 'renamed-loo');
    expect((await cli('prepare', '--protocol', 'loo', '--seq', renamed, '--out', other)).code).toBe(0);
    const ids = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--from-base', baseDir, '--data', other, '--out', path.join(dir, 'x5'));
    expect(ids.stderr).toBe(`duet-tf: train: --from-base '${baseDir}' was trained with other item ids than '${other}' (their items.tsv differ); train the base on this data\n`);
    // eval would rank the renamed items with the embeddings of others: refused, full ranking and sampled.
    for (const extra of [[], ['--candidates', 'sampled']]) {
      const scored = await cli('eval', '--model-dir', baseDir, '--data', other, ...extra);
      expect(scored.code).toBe(2);
      expect(scored.stderr).toBe(`duet-tf: eval: the model in '${baseDir}' was trained with other item ids than '${other}' (their items.tsv differ); score it on the data it was trained on\n`);
    }
    const notBase = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--from-base', duetDir, '--data', out, '--out', path.join(dir, 'x3'));
    expect(notBase.stderr).toBe(`duet-tf: train: --from-base '${duetDir}' holds a duet model; it must be a base model\n`);
  }, 120_000);

  it("runs the README's seq-loo-v1 commands as printed", async () => {
    const readme = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
    const at = readme.indexOf("\n## The field's benchmark on your own sequences (seq-loo-v1)\n");
    expect(at).toBeGreaterThan(0);
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1] ?? '';
    const commands = block.split('\n').filter((l) => l.startsWith('npx duet-tf '));
    expect(commands.map((c) => c.split(' ')[2])).toEqual(['prepare', 'compare', 'train', 'eval']);
    const work = path.join(dir, 'readme');
    fs.mkdirSync(work);
    fs.copyFileSync(sequenceFile(), path.join(work, 'sequences.txt'));
    // The commands' relative paths, taken from a folder holding sequences.txt.
    const local = (a: string) => (/^(sequences\.txt|data\/|models\/)/.test(a) ? path.join(work, a) : a);
    for (const command of commands) {
      const r = await cli(...command.split(' ').slice(2).map(local));
      expect(r.code, `${command}\n${r.stderr}`).toBe(0);
    }
    expect(fs.existsSync(path.join(work, 'models/loo-duet/model.json'))).toBe(true);
  }, 240_000);

  it('refuses what does not apply to a seq-loo-v1 folder, and loo options on a duet-seq-v1 one', async () => {
    const epochs = await cli('compare', '--model', 'sasrec', '--data', out, '--epochs', '2');
    expect(epochs.stderr).toBe('duet-tf: compare: --epochs does not apply to a seq-loo-v1 folder (use --max-epochs, --patience and --max-minutes)\n');
    expect(epochs.code).toBe(2);
    const finetune = await cli('compare', '--model', 'sasrec', '--data', out, '--variants', 'base,finetune');
    expect(finetune.stderr).toBe('duet-tf: compare: --variants finetune is not available on a seq-loo-v1 folder (base, duet)\n');
    // compare ranks DIN on 99 sampled negatives (test/cli/loo_din.test.ts): 40 items are too few.
    const din = await cli('compare', '--model', 'din', '--data', out);
    expect(din.stderr).toMatch(/^duet-tf: compare: 'sampleLooNegatives' cannot draw 99 negatives for user 1: they interacted with \d+ of the 40 items/);
    const trainDin = await cli('train', '--model', 'din', '--data', out, '--out', path.join(dir, 'din-model'));
    expect(trainDin.stderr).toMatch(/^duet-tf: train: --model din does not rank the whole catalogue/);
    const loss = await cli('compare', '--model', 'sasrec', '--data', 'synthetic', '--epochs', '1', '--loss', 'bce');
    expect(loss.stderr).toBe("duet-tf: compare: --loss applies to seq-loo-v1 folders (prepare --protocol loo); 'synthetic' is not one\n");
    const noEpochs = await cli('compare', '--model', 'sasrec', '--data', 'synthetic');
    expect(noEpochs.stderr).toMatch(/^duet-tf: compare: --epochs is required/);
  });
});
