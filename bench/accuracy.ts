/**
 * The accuracy benchmark: the DUET paper's experiment (base vs per-user fine-tune vs DUET) for
 * each reference model on one split, through `duet-tf compare`.
 *
 *   npm run bench:accuracy -- --data DIR [--models sasrec,gru4rec,din] [--epochs 1,2]
 *       [--out docs/RESULTS.md] [--finetune-users N] [--backend auto|tensorflow|wasm|cpu]
 *       [--max-train-rows N] [--validation-fraction F] [--duet-from base|scratch]
 *       [--model-options JSON] [--variants base,finetune,duet] [--seed N] [--label NAME]
 *
 *   npm run bench:accuracy -- --rows A.jsonl,B.jsonl --label NAME [--out FILE]
 *
 * Prints one JSON line per result on stdout (progress on stderr) and writes a markdown table into
 * `--out` between `<!-- accuracy:LABEL -->` markers: a rerun with the same label (default: the data
 * folder's name and the epochs) replaces its table and leaves the rest of the file alone.
 * `--rows` runs nothing: it tabulates JSON lines saved from earlier runs of this script or of
 * `duet-tf compare --json` (e.g. variants run as separate processes side by side).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { runCli } from '../src/cli/main';
import { machineInfo } from './common';

const USAGE = 'usage: npm run bench:accuracy -- --data DIR [--models sasrec,gru4rec,din] ' +
  '[--epochs 1,2] [--out docs/RESULTS.md] [--finetune-users N] [--backend auto|tensorflow|wasm|cpu] ' +
  '[--max-train-rows N] [--validation-fraction F] [--duet-from base|scratch] [--model-options JSON] ' +
  '[--variants base,finetune,duet] [--seed N] [--label NAME]\n' +
  '       npm run bench:accuracy -- --rows A.jsonl[,B.jsonl] --label NAME [--out FILE]';

type Row = Record<string, unknown>;

/** Runs `duet-tf compare` in-process; returns its JSON lines and forwards its stderr. */
async function compare(args: string[]): Promise<Row[]> {
  let stdout = '';
  const code = await runCli(['compare', ...args, '--json'], {
    stdout: (t) => { stdout += t; },
    stderr: (t) => process.stderr.write(t),
    isTTY: false,
  });
  if (code !== 0) throw new Error(`duet-tf compare ${args.join(' ')} exited with ${code}`);
  return stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

const fixed = (v: unknown, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : '–');

/** A markdown table's header and separator lines. */
const headerLines = (head: string[]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];

/** What a row's run set beside the defaults (`--model-options`, `--generator-lr`), '' for none. */
const settingsOf = (r: Row) => [
  r.model_options === undefined ? '' : JSON.stringify(r.model_options),
  r.generator_lr === undefined ? '' : `generator lr ${String(r.generator_lr)}`,
].filter((x) => x !== '').join(', ');

/** The variant cell, with the run's non-default settings (runs with other settings are other rows). */
const variantCell = (r: Row) => {
  const settings = settingsOf(r);
  return settings === '' ? String(r.variant) : `${String(r.variant)} (${settings.replace(/\|/g, '\\|')})`;
};

/** The epochs cell: DUET from the trained base has had the base's epochs, then its own. */
const epochsCell = (r: Row) => (r.variant === 'duet' && r.duet_from === 'base' ? `${r.epochs} + ${r.epochs}` : r.epochs);

/** The markdown table of `rows`, best AUC and NDCG@10 per model and epochs in bold. */
function table(rows: Row[]): string {
  const head = ['model', 'variant', 'epochs', 'AUC', 'UAUC', 'NDCG@10', 'HR@10', 'logloss', 'NDCG@5',
    'HR@5', 'NDCG@20', 'HR@20', 'adapt ms/user'];
  const lines = headerLines(head);
  const best = (r: Row, key: string) => {
    const peers = rows.filter((p) => p.model === r.model && p.epochs === r.epochs);
    return peers.every((p) => (p[key] as number) <= (r[key] as number));
  };
  for (const r of rows) {
    const metric = (key: string) => (best(r, key) ? `**${fixed(r[key])}**` : fixed(r[key]));
    lines.push(`| ${[r.model, variantCell(r), epochsCell(r), metric('auc'), metric('uauc'), metric('ndcg@10'),
      fixed(r['hr@10']), fixed(r.logloss), fixed(r['ndcg@5']), fixed(r['hr@5']), fixed(r['ndcg@20']),
      fixed(r['hr@20']), r.adapt_ms_per_user === undefined ? '–' : fixed(r.adapt_ms_per_user, 2),
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Replaces (or appends) the section between this label's markers in `file`. */
function writeSection(file: string, label: string, body: string): void {
  const start = `<!-- accuracy:${label} -->`;
  const end = `<!-- /accuracy:${label} -->`;
  const section = `${start}\n${body}\n${end}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Results\n';
  const from = old.indexOf(start);
  const to = old.indexOf(end);
  const text = from >= 0 && to > from ?
    old.slice(0, from) + section + old.slice(to + end.length) :
    `${old.trimEnd()}\n\n${section}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** The same experiment (model, variant, epochs, DUET start, data, settings) repeated, e.g. over seeds. */
function groupRuns(rows: Row[]): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.model, r.variant, r.epochs, r.duet_from ?? null, r.data ?? null,
      settingsOf(r)]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

const MEAN_KEYS = ['auc', 'uauc', 'ndcg@10', 'hr@10', 'logloss'];

/** Mean and sample standard deviation of `key` over `runs`. */
function meanSd(runs: Row[], key: string): { mean: number; sd: number } {
  const v = runs.map((r) => r[key] as number);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, sd };
}

/** Repeated runs as mean ± standard deviation, best mean AUC, UAUC and NDCG@10 per model in bold. */
function meanTable(rows: Row[]): string {
  const groups = groupRuns(rows);
  const head = ['model', 'variant', 'epochs', 'runs', 'AUC', 'UAUC', 'NDCG@10', 'HR@10', 'logloss',
    'adapt ms/user'];
  const lines = headerLines(head);
  for (const g of groups) {
    const r = g[0];
    const peers = groups.filter((p) => p[0].model === r.model && p[0].epochs === r.epochs);
    const cell = (key: string) => {
      const { mean, sd } = meanSd(g, key);
      const best = ['auc', 'uauc', 'ndcg@10'].includes(key) &&
        peers.every((p) => meanSd(p, key).mean <= mean);
      const text = `${mean.toFixed(4)} ± ${sd.toFixed(4)}`;
      return best ? `**${text}**` : text;
    };
    const adapt = g.every((x) => typeof x.adapt_ms_per_user === 'number') ?
      meanSd(g, 'adapt_ms_per_user').mean.toFixed(2) : '–';
    lines.push(`| ${[r.model, variantCell(r), epochsCell(r), g.length, ...MEAN_KEYS.map(cell), adapt].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Reads the result rows (JSON objects with `model` and `variant`) of saved JSON-lines files. */
function readRows(files: string[]): Row[] {
  const rows: Row[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim().startsWith('{')) return;
      let row: Row;
      try {
        row = JSON.parse(line) as Row;
      } catch {
        throw new Error(`${file}:${i + 1}: not a JSON object`);
      }
      if (typeof row.model !== 'string' || typeof row.variant !== 'string') {
        throw new Error(`${file}:${i + 1}: a result row needs 'model' and 'variant'`);
      }
      rows.push(row);
    });
  }
  if (rows.length === 0) throw new Error(`no result rows in ${files.join(', ')}`);
  return rows;
}

/** `--rows`: the table of saved results, written like a run's. */
function tabulateSaved(files: string[], label: string | undefined, out: string): void {
  if (label === undefined) throw new Error('--rows needs --label');
  const rows = readRows(files);
  const repeated = groupRuns(rows).some((g) => g.length > 1);
  const body = [`### ${label}`, '', `Rows from \`${files.map((f) => path.basename(f)).join('`, `')}\`` +
    ` (runs of \`duet-tf compare --json\` side by side; commands above), backend ` +
    `${String(rows[0].backend)}.`, '', repeated ? meanTable(rows) : table(rows)].join('\n');
  writeSection(out, label, body);
  process.stderr.write(`bench:accuracy: wrote ${out} (section ${label}, ${rows.length} rows)\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, models: { type: 'string', default: 'sasrec,gru4rec,din' },
      epochs: { type: 'string', default: '1' }, out: { type: 'string', default: 'docs/RESULTS.md' },
      'finetune-users': { type: 'string' }, backend: { type: 'string', default: 'auto' },
      'max-train-rows': { type: 'string' }, 'validation-fraction': { type: 'string' },
      'duet-from': { type: 'string' }, 'model-options': { type: 'string' },
      variants: { type: 'string' }, seed: { type: 'string' }, rows: { type: 'string' },
      label: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.rows !== undefined && !values.help) {
    tabulateSaved(values.rows.split(',').map((f) => f.trim()), values.label, values.out);
    return;
  }
  if (values.help || values.data === undefined) {
    console.error(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const epochs = values.epochs.split(',').map((e) => e.trim());
  const models = values.models.split(',').map((m) => m.trim());
  const passed: string[] = ['--data', values.data, '--backend', values.backend];
  for (const key of ['finetune-users', 'max-train-rows', 'validation-fraction', 'duet-from',
    'model-options', 'variants', 'seed'] as const) {
    if (values[key] !== undefined) passed.push(`--${key}`, values[key] as string);
  }
  const rows: Row[] = [];
  const started = Date.now();
  for (const model of models) {
    for (const e of epochs) {
      for (const row of await compare(['--model', model, '--epochs', e, ...passed])) {
        const full = { ...row, data: values.data };
        rows.push(full);
        process.stdout.write(`${JSON.stringify(full)}\n`);
      }
    }
  }
  const m = machineInfo();
  const label = values.label ?? `${path.basename(path.resolve(values.data))}-epochs-${epochs.join('-')}`;
  const command = `npm run bench:accuracy -- ${process.argv.slice(2).join(' ')}`;
  const body = [
    `### ${label}`,
    '',
    `\`${command}\` — ${new Date().toISOString().slice(0, 10)}, ${m.cpu} (${m.cores} cores), ` +
      `backend ${String(rows[0]?.backend)}, Node ${m.node}, ${((Date.now() - started) / 60000).toFixed(0)} min.`,
    '',
    table(rows),
  ].join('\n');
  writeSection(values.out, label, body);
  process.stderr.write(`bench:accuracy: wrote ${values.out} (section ${label})\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench:accuracy: ${e.message.split('\n')[0]}\n`);
  process.exitCode = 1;
});
