import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModelDir } from '../../src/cli/model_dir';
import { readSeqLooSplit } from '../../src/data/protocols/seq_loo_io';
import { sampleLooNegatives } from '../../src/eval/sampled/sampled_negatives';
import { evaluateSampledRanking, popularitySampled } from '../../src/eval/sampled/sampled_ranking';
import { cli, lastJson } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-loo-din-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 33 users a line over a catalogue of 150 items (enough for 99 negatives each). */
function sequenceFile(): string {
  const lines: string[] = [];
  for (let u = 1; u <= 30; u++) {
    const n = 5 + (u % 6);
    const items = Array.from({ length: n }, (_, t) => `i${1 + ((u * 11 + t * (1 + (u % 4))) % 150)}`);
    lines.push(`user${u} ${items.join(' ')}`);
  }
  // Three users who make every item appear, each leaving 100 items to draw from.
  for (let k = 0; k < 3; k++) lines.push(`all${k} ${Array.from({ length: 50 }, (_, i) => `i${k * 50 + i + 1}`).join(' ')}`);
  const file = path.join(dir, 'sequences.txt');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const SMALL = ['--dim', '8', '--batch', '16', '--threads', '1', '--validation-users', '8',
  '--model-options', '{"mlpUnits":[8],"attentionUnits":[4]}'];

describe('compare --model din on a seq-loo-v1 folder', () => {
  const out = path.join(dir, 'loo');
  beforeAll(async () => {
    const r = await cli('prepare', '--protocol', 'loo', '--seq', sequenceFile(), '--out', out, '--json');
    expect(r.code).toBe(0);
  });

  it('trains base and DUET, ranks each test target among 99 sampled negatives, and prints a popularity row on them', async () => {
    const r = await cli('compare', '--model', 'din', '--data', out, '--max-epochs', '2', '--patience', '1', ...SMALL, '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((row) => row.variant)).toEqual(['base', 'duet', 'popularity']);
    for (const row of rows.slice(0, 2)) {
      for (const key of ['hr@5', 'ndcg@5', 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20', 'train_seconds']) {
        expect(typeof row[key], key).toBe('number');
      }
      expect(row).toMatchObject({
        model: 'din', protocol: 'seq-loo-v1', candidates: '99-sampled', users: 33, validation_users: 8,
        loss: 'bce', batch: 16, dim: 8, click_length: 50, seed: 0, candidate_seed: 0,
      });
      expect(row.epochs as number).toBeGreaterThanOrEqual(1);
      expect(row.epochs as number).toBeLessThanOrEqual(2);
      expect(row.best_epoch as number).toBeGreaterThanOrEqual(1);
      expect(row.best_epoch as number).toBeLessThanOrEqual(row.epochs as number);
      expect(['max-epochs', 'patience']).toContain(row.stopped);
      expect((row.validation as Record<string, number>)['ndcg@10']).toBeGreaterThanOrEqual(0);
      // 99 negatives: HR@20 of a model below 1 unless it is perfect; ndcg never above hr.
      expect(row['ndcg@10'] as number).toBeLessThanOrEqual(row['hr@10'] as number);
    }
    // The floor is the library's popularity ranking of the same candidates.
    const split = await readSeqLooSplit(out);
    const popularity = popularitySampled(split, sampleLooNegatives(split, 'test'));
    expect(rows[2]).toMatchObject({ model: 'popularity', candidates: '99-sampled', users: 33 });
    expect(rows[2]['ndcg@10']).toBeCloseTo(popularity['ndcg@10'], 6);
    expect(rows[2]['hr@20']).toBeCloseTo(popularity['hr@20'], 6);
    expect(r.stderr).toMatch(/ranked on 99-sampled candidates/);
    expect(r.stderr).toMatch(/din base: epoch 1 loss [\d.]+ validation ndcg@10 [\d.]+ hr@10/);
    expect(r.stderr).toMatch(/din duet: epoch 1 /);
  }, 120_000);

  it('a shorter history through --model-options, and the same row for the same seeds', async () => {
    const args = ['compare', '--model', 'din', '--data', out, '--variants', 'base', '--max-epochs', '1', ...SMALL.slice(0, -2),
      '--model-options', '{"mlpUnits":[8],"attentionUnits":[4],"clickLength":3}', '--json'];
    const a = await cli(...args);
    expect(a.code).toBe(0);
    const row = JSON.parse(a.stdout.trim().split('\n')[0]) as Record<string, unknown>;
    expect(row).toMatchObject({ variant: 'base', click_length: 3, epochs: 1 });
    const b = await cli(...args);
    expect(JSON.parse(b.stdout.trim().split('\n')[0])['ndcg@10']).toBe(row['ndcg@10']);
    expect(lastJson(a.stdout).variant).toBe('popularity');
  }, 120_000);

  it('eval --candidates sampled ranks a saved SASRec on the same candidates', async () => {
    const model = path.join(dir, 'sasrec');
    const t = await cli('train', '--model', 'sasrec', '--data', out, '--max-epochs', '1', '--dim', '8', '--batch', '16',
      '--threads', '1', '--model-options', '{"numBlocks":1}', '--out', model, '--json');
    expect(t.code).toBe(0);
    const r = await cli('eval', '--model-dir', model, '--data', out, '--candidates', 'sampled', '--candidate-seed', '2', '--json');
    expect(r.stderr).not.toMatch(/duet-tf:/);
    const row = lastJson(r.stdout);
    expect(row).toMatchObject({ model: 'sasrec', protocol: 'seq-loo-v1', part: 'test', candidates: '99-sampled', users: 33, candidate_seed: 2 });
    const split = await readSeqLooSplit(out);
    const candidates = sampleLooNegatives(split, 'test', { seed: 2 });
    const expected = await evaluateSampledRanking((await loadModelDir('test', model)).model, split, candidates);
    expect(row['ndcg@10']).toBeCloseTo(expected['ndcg@10'], 6);
    expect((row.popularity as Record<string, number>)['hr@10']).toBeCloseTo(popularitySampled(split, candidates)['hr@10'], 6);
    const full = await cli('eval', '--model-dir', model, '--data', out, '--json');
    expect(lastJson(full.stdout).candidates).toBeUndefined(); // the default stays the whole catalogue
    const seedOnly = await cli('eval', '--model-dir', model, '--data', out, '--candidate-seed', '2');
    expect(seedOnly.stderr).toMatch(/^duet-tf: eval: --candidate-seed applies to --candidates sampled only/);
    const notLoo = await cli('eval', '--model-dir', model, '--data', 'synthetic', '--candidates', 'sampled');
    expect(notLoo.stderr).toMatch(/^duet-tf: eval: --candidates applies to seq-loo-v1 folders/);
  }, 120_000);

  it('refuses what does not apply, with the reason', async () => {
    const loss = await cli('compare', '--model', 'din', '--data', out, '--loss', 'ce');
    expect(loss.code).toBe(2);
    expect(loss.stderr).toMatch(/^duet-tf: compare: --loss does not apply to --model din/);
    const variants = await cli('compare', '--model', 'din', '--data', out, '--variants', 'finetune');
    expect(variants.stderr).toMatch(/--variants must list some of base, duet for --model din/);
    const wide = await cli('compare', '--model', 'din', '--data', out, '--model-options', '{"clickLength":51}');
    expect(wide.stderr).toMatch(/clickLength must be an integer in 1\.\.50 \(the split's max_len\), got 51/);
    const epochs = await cli('compare', '--model', 'din', '--data', out, '--epochs', '2');
    expect(epochs.stderr).toMatch(/--epochs does not apply to a seq-loo-v1 folder/);
    // The DIN-only options on other paths.
    const sasrec = await cli('compare', '--model', 'sasrec', '--data', out, '--validation-users', '5');
    expect(sasrec.stderr).toMatch(/^duet-tf: compare: --validation-users applies to --model din on a seq-loo-v1 folder only/);
    const duetSeq = await cli('compare', '--model', 'din', '--data', 'synthetic', '--epochs', '1', '--candidate-seed', '1');
    expect(duetSeq.stderr).toMatch(/--candidate-seed applies to --model din on a seq-loo-v1 folder only/);
    // train cannot rank DIN on the whole catalogue: refused, pointing at compare.
    const train = await cli('train', '--model', 'din', '--data', out, '--out', path.join(dir, 'm'));
    expect(train.code).toBe(2);
    expect(train.stderr).toMatch(/--model din does not rank the whole catalogue.*`compare --model din` ranks DIN on 99 sampled negatives/);
  });
});
