import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

// `npm run bench:accuracy -- --rows …`: tabulates results saved by separate compare runs.
describe('bench:accuracy --rows', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-acc-rows-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const row = (variant: string, seed: number, auc: number, ndcg: number) => JSON.stringify({
    model: 'gru4rec', variant, backend: 'cpu', epochs: 1, auc, uauc: auc - 0.1, logloss: 0.5,
    'ndcg@10': ndcg, 'hr@10': 0.7, seed, ...(variant === 'duet' ? { duet_from: 'scratch', adapt_ms_per_user: 1 } : {}),
  });
  const run = (...args: string[]) => spawnSync('npx', ['tsx', 'bench/accuracy.ts', ...args],
    { encoding: 'utf8', timeout: 60_000 });

  it('shows repeated runs as mean ± sd, best mean in bold, and leaves the rest of the file alone', () => {
    const a = path.join(dir, 'seed0.jsonl');
    const b = path.join(dir, 'seed1.jsonl');
    fs.writeFileSync(a, `progress line\n${row('base', 0, 0.8, 0.40)}\n${row('duet', 0, 0.9, 0.50)}\n`);
    fs.writeFileSync(b, `${row('base', 1, 0.7, 0.44)}\n${row('duet', 1, 0.8, 0.46)}\n`);
    const out = path.join(dir, 'RESULTS.md');
    fs.writeFileSync(out, '# Results\n\nhand-written text\n');
    const r = run('--rows', `${a},${b}`, '--label', 'seeds', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('hand-written text');
    // base: AUC 0.8, 0.7 → 0.75 ± 0.0707; NDCG 0.40, 0.44 → 0.42 ± 0.0283. duet: 0.85 ± 0.0707, 0.48 ± 0.0283.
    expect(text).toContain('| gru4rec | base | 1 | 2 | 0.7500 ± 0.0707 | 0.6500 ± 0.0707 | 0.4200 ± 0.0283 |');
    expect(text).toContain('| gru4rec | duet | 1 | 2 | **0.8500 ± 0.0707** | **0.7500 ± 0.0707** | **0.4800 ± 0.0283** |');
    expect(text.match(/<!-- accuracy:seeds -->/g)).toHaveLength(1);
  });

  it('keeps runs with other settings (--model-options, --generator-lr) apart, and names them', () => {
    const plain = row('duet', 0, 0.9, 0.5);
    const tuned = JSON.stringify({ ...JSON.parse(row('duet', 1, 0.7, 0.3)),
      model_options: { generator: { conditionDropout: 0.75 } }, generator_lr: 0.003 });
    const file = path.join(dir, 'settings.jsonl');
    fs.writeFileSync(file, `${plain}\n${tuned}\n`);
    const out = path.join(dir, 'settings.md');
    const r = run('--rows', file, '--label', 'settings', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    // Not one group of two seeds (that would be AUC 0.8000 ± 0.1414), but two rows.
    expect(text).not.toContain('0.1414');
    expect(text).toContain('| gru4rec | duet | 1 | **0.9000** |');
    expect(text).toContain('| gru4rec | duet ({"generator":{"conditionDropout":0.75}}, generator lr 0.003) | 1 | 0.7000 |');
  });

  it('names the file and line of a malformed row, and needs a label', () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, `${row('base', 0, 0.8, 0.4)}\n{"model": "din", \n`);
    const r = run('--rows', bad, '--label', 'x', '--out', path.join(dir, 'x.md'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:2: not a JSON object`);
    const noVariant = path.join(dir, 'no-variant.jsonl');
    fs.writeFileSync(noVariant, '{"model":"din","auc":0.5}\n');
    expect(run('--rows', noVariant, '--label', 'x', '--out', path.join(dir, 'x.md')).stderr)
      .toContain(`${noVariant}:1: a result row needs 'model' and 'variant'`);
    expect(run('--rows', bad, '--out', path.join(dir, 'x.md')).stderr).toContain('--rows needs --label');
  });
});
