import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { looTable, looTargets, type PublishedLooRow } from '../../bench/accuracy_loo';
import { cli } from '../cli/helpers';

type Row = Record<string, unknown>;

const metrics = (hr10: number, ndcg10: number, hr20: number, ndcg20: number) => ({
  'hr@5': hr10 / 2, 'ndcg@5': ndcg10 / 2, 'hr@10': hr10, 'ndcg@10': ndcg10, 'hr@20': hr20, 'ndcg@20': ndcg20,
});
const run = (model: string, variant: string, seed: number, m: ReturnType<typeof metrics>): Row => ({
  model, variant, seed, protocol: 'seq-loo-v1', loss: 'ce', best_epoch: 3, epochs: 5, train_seconds: 100 + seed, ...m,
});
const PUBLISHED: PublishedLooRow[] = [
  { target: 'sasrec', label: 'SASRec, published', metrics: { 'hr@10': 0.06, 'ndcg@10': 0.03 } },
  { target: 'duet-sasrec', label: 'ICLRec', metrics: { 'hr@10': 0.07, 'ndcg@10': 0.04, 'hr@20': 0.1, 'ndcg@20': 0.05 } },
];

describe('bench:accuracy seq-loo-v1 tables', () => {
  it('shows seeds as mean ± sd beside the published rows, popularity once', () => {
    const rows = [
      run('sasrec', 'base', 0, metrics(0.05, 0.03, 0.08, 0.04)),
      run('sasrec', 'base', 1, metrics(0.07, 0.03, 0.10, 0.04)),
      { model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', ...metrics(0.01, 0.005, 0.02, 0.007) },
      { model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', ...metrics(0.01, 0.005, 0.02, 0.007) },
    ];
    const text = looTable(rows, PUBLISHED);
    expect(text.split('\n')[0]).toBe('| model | runs | HR@5 | NDCG@5 | HR@10 | NDCG@10 | HR@20 | NDCG@20 | best epoch / epochs | train s |');
    expect(text).toContain('| SASRec, published | – | – | – | 0.0600 | 0.0300 | – | – | – | – |');
    // HR@10 0.05, 0.07 → 0.06 ± 0.0141; NDCG@10 equal → sd 0.
    expect(text).toContain('| **base sasrec** | 2 (seeds 0, 1) | 0.0300 ± 0.0071 | 0.0150 ± 0.0000 | 0.0600 ± 0.0141 | 0.0300 ± 0.0000 | 0.0900 ± 0.0141 | 0.0400 ± 0.0000 | 3/5, 3/5 | 100, 101 |');
    expect(text.match(/popularity/g)).toHaveLength(1);
  });

  it('checks each target on the rows: means against published, DUET above base in every seed', () => {
    const rows = [
      run('sasrec', 'base', 0, metrics(0.05, 0.03, 0.08, 0.04)),
      run('sasrec', 'base', 1, metrics(0.07, 0.03, 0.10, 0.04)),
      run('sasrec', 'duet', 0, metrics(0.08, 0.05, 0.12, 0.06)),
      // Seed 1: DUET's NDCG@20 is level with base, not above it.
      run('sasrec', 'duet', 1, metrics(0.08, 0.05, 0.12, 0.04)),
    ];
    const lines = looTargets(rows, PUBLISHED);
    expect(lines).toEqual([
      '- base sasrec ≥ SASRec, published (mean of seeds 0, 1: hr@10 0.0600 vs 0.0600, ndcg@10 0.0300 vs 0.0300): **met**',
      '- DUET-sasrec ≥ ICLRec (mean of seeds 0, 1: hr@10 0.0800 vs 0.0700, ndcg@10 0.0500 vs 0.0400, hr@20 0.1200 vs 0.1000, ndcg@20 0.0500 vs 0.0500): **met**',
      '- DUET-sasrec above base sasrec on HR and NDCG at 10 and 20 in every seed (seeds 0, 1): **not met**',
    ]);
    // Without seed 1's DUET run the per-seed target holds; a lower base mean fails its target.
    const fewer = looTargets([{ ...rows[0], 'hr@10': 0.049 }, rows[2]], PUBLISHED);
    expect(fewer[0]).toMatch(/: \*\*not met\*\*$/);
    expect(fewer[2]).toBe('- DUET-sasrec above base sasrec on HR and NDCG at 10 and 20 in every seed (seeds 0): **met**');
  });

  it('keeps runs with other settings or sampled candidates out of the targets', () => {
    const tuned = { ...run('sasrec', 'base', 0, metrics(0.2, 0.2, 0.2, 0.2)), model_options: { dropout: 0.2 } };
    const sampled = { ...run('sasrec', 'base', 0, metrics(0.4, 0.3, 0.5, 0.3)), candidates: '99-sampled' };
    expect(looTargets([tuned, sampled], PUBLISHED)).toEqual([]);
    const text = looTable([tuned, sampled], []);
    expect(text).toContain('| **base sasrec ({"dropout":0.2})** | 1 (seed 0) |');
    expect(text).toContain('| **base sasrec, 99-sampled candidates** | 1 (seed 0) |');
  });
});

describe('npm run bench:accuracy on a seq-loo-v1 folder', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-acc-loo-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bench = (...args: string[]) => spawnSync('npx', ['tsx', 'bench/accuracy.ts', ...args],
    { encoding: 'utf8', timeout: 240_000 });

  it('runs compare per seed and writes the table under the seq-loo-v1 heading, the rest kept', async () => {
    const lines: string[] = [];
    for (let u = 1; u <= 40; u++) {
      lines.push(`u${u} ${Array.from({ length: 5 + (u % 6) }, (_, t) => `i${1 + ((u * 5 + t * 3) % 30)}`).join(' ')}`);
    }
    fs.writeFileSync(path.join(dir, 'seq.txt'), `${lines.join('\n')}\n`);
    const loo = path.join(dir, 'loo');
    expect((await cli('prepare', '--protocol', 'loo', '--seq', path.join(dir, 'seq.txt'), '--out', loo)).code).toBe(0);
    const out = path.join(dir, 'RESULTS.md');
    const heading = '## seq-loo-v1: leave-one-out, full ranking (Amazon Beauty)';
    fs.writeFileSync(out, `# Accuracy results\n\n${heading}\n\nhand-written text\n\n## duet-seq-v1\n`);
    const r = bench('--data', loo, '--models', 'sasrec', '--seeds', '0,1', '--max-epochs', '1', '--threads', '1',
      '--model-options', '{"numBlocks":1}', '--label', 'tiny', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
    // base and DUET for each seed, popularity once.
    expect(rows.map((x) => `${String(x.variant)}:${String(x.seed)}`)).toEqual(['base:0', 'duet:0', 'popularity:undefined', 'base:1', 'duet:1']);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.indexOf('<!-- accuracy:tiny -->')).toBeGreaterThan(text.indexOf(heading));
    expect(text.indexOf('<!-- /accuracy:tiny -->')).toBeLessThan(text.indexOf('hand-written text'));
    expect(text).toContain('| SASRec, published (S3-Rec paper, all-item table) | – | – | – | 0.0605 | 0.0318 |');
    expect(text).toMatch(/\| \*\*base sasrec \(\{"numBlocks":1\}\)\*\* \| 2 \(seeds 0, 1\) \| \d\.\d{4} ± \d\.\d{4} \|/);
    expect(text).toContain('## duet-seq-v1');

    // The same rows saved and tabulated with --rows: a second section under the same heading.
    const saved = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(saved, r.stdout);
    expect(bench('--rows', saved, '--label', 'saved', '--out', out).status).toBe(0);
    const again = fs.readFileSync(out, 'utf8');
    expect(again.indexOf('<!-- accuracy:saved -->')).toBeGreaterThan(again.indexOf(heading));
    expect(again.indexOf('<!-- accuracy:saved -->')).toBeLessThan(again.indexOf('<!-- accuracy:tiny -->'));
    expect(again.match(/\| \*\*base sasrec \(\{"numBlocks":1\}\)\*\* \| 2 \(seeds 0, 1\)/g)).toHaveLength(2);

    const epochs = bench('--data', loo, '--epochs', '2', '--out', out);
    expect(epochs.status).toBe(1);
    expect(epochs.stderr).toContain('on a seq-loo-v1 folder give --max-epochs, --patience and --max-minutes, not --epochs');
    const seeds = bench('--data', loo, '--seeds', '0,x', '--out', out);
    expect(seeds.stderr).toContain("--seeds must list non-negative integers, got '0,x'");
  }, 300_000);
});
