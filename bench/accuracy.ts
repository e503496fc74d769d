/**
 * The accuracy benchmark: the DUET paper's experiment (base vs per-user fine-tune vs DUET) for
 * each reference model on one split, through `duet-tf compare`.
 *
 *   npm run bench:accuracy -- --data DIR [--models sasrec,gru4rec,din] [--epochs 1,2]
 *       [--out docs/RESULTS.md] [--finetune-users N] [--backend auto|tensorflow|wasm|cpu]
 *       [--max-train-rows N] [--validation-fraction F] [--duet-from base|scratch]
 *       [--model-options JSON] [--variants base,finetune,duet] [--seed N] [--label NAME]
 *
 *   npm run bench:accuracy -- --data LOO_DIR [--models sasrec,gru4rec] [--seeds 0,1,2]
 *       [--max-minutes M] [--max-epochs N] [--patience N] [--loss ce|bce|sampled] [--threads N]
 *       [--variants base,duet] [--model-options JSON] [--label NAME] [--out docs/RESULTS.md]
 *
 *   npm run bench:accuracy -- --rows A.jsonl,B.jsonl --label NAME [--out FILE]
 *
 * On a seq-loo-v1 folder (its protocol.json says so) the table is the full-ranking one: the
 * published rows beside ours, mean ± sd over `--seeds`, and each of the protocol's targets checked
 * against the rows; it goes under the results file's `## seq-loo-v1` heading, so it opens the file.
 * Prints one JSON line per result on stdout (progress on stderr) and writes a markdown table into
 * `--out` between `<!-- accuracy:LABEL -->` markers: a rerun with the same label (default: the data
 * folder's name and the epochs) replaces its table and leaves the rest of the file alone.
 * `--rows` runs nothing: it tabulates JSON lines saved from earlier runs of this script or of
 * `duet-tf compare --json` (e.g. variants run as separate processes side by side).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { runCli } from '../src/cli/main';
import { isLooRows, looTable, looTargets, meanSd } from './accuracy_loo';
import { machineInfo } from './common';

const USAGE = 'usage: npm run bench:accuracy -- --data DIR [--models sasrec,gru4rec,din] ' +
  '[--epochs 1,2] [--out docs/RESULTS.md] [--finetune-users N] [--backend auto|tensorflow|wasm|cpu] ' +
  '[--max-train-rows N] [--validation-fraction F] [--duet-from base|scratch] [--model-options JSON] ' +
  '[--variants base,finetune,duet] [--seed N] [--label NAME]\n' +
  '       npm run bench:accuracy -- --data LOO_DIR [--models sasrec,gru4rec] [--seeds 0,1,2] [--max-minutes M] ' +
  '[--max-epochs N] [--patience N] [--loss ce|bce|sampled] [--threads N] [--variants base,duet] [--model-options JSON]\n' +
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

/**
 * Replaces the section between this label's markers in `file`; a new section goes right after the
 * `after` heading line when the file has it, else at the end.
 */
function writeSection(file: string, label: string, body: string, after?: string): void {
  const start = `<!-- accuracy:${label} -->`;
  const end = `<!-- /accuracy:${label} -->`;
  const section = `${start}\n${body}\n${end}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Results\n';
  const from = old.indexOf(start);
  const to = old.indexOf(end);
  const heading = after === undefined ? -1 : old.split('\n').indexOf(after);
  let text: string;
  if (from >= 0 && to > from) {
    text = old.slice(0, from) + section + old.slice(to + end.length);
  } else if (heading >= 0) {
    const lines = old.split('\n');
    text = [...lines.slice(0, heading + 1), '', section, ...lines.slice(heading + 1)].join('\n');
  } else {
    text = `${old.trimEnd()}\n\n${section}\n`;
  }
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

/** The heading seq-loo-v1 tables go under (docs/RESULTS.md opens with it). */
const LOO_HEADING = '## seq-loo-v1: leave-one-out, full ranking (Amazon Beauty)';

/** A seq-loo-v1 section: its title, where the rows come from, the table and the targets. */
function looBody(label: string, from: string, rows: Row[]): string {
  const targets = looTargets(rows);
  return [`### ${label}`, '', from, '', looTable(rows), '',
    ...(targets.length > 0 ? ['Targets (issue 12), checked on the rows above:', '', ...targets] : [])].join('\n');
}

/** Whether `dir` is a seq-loo-v1 folder (its protocol.json says so). */
function isLooFolder(dir: string): boolean {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(dir, 'protocol.json'), 'utf8')) as { protocol?: unknown };
    return p.protocol === 'seq-loo-v1';
  } catch {
    return false;
  }
}

/** `--rows`: the table of saved results, written like a run's. */
function tabulateSaved(files: string[], label: string | undefined, out: string): void {
  if (label === undefined) throw new Error('--rows needs --label');
  const rows = readRows(files);
  const from = `Rows from \`${files.map((f) => path.basename(f)).join('`, `')}\`` +
    ` (runs of \`duet-tf compare --json\` side by side; commands above), backend ` +
    `${String(rows.find((r) => r.backend !== undefined)?.backend)}.`;
  if (isLooRows(rows)) {
    writeSection(out, label, looBody(label, from, rows), LOO_HEADING);
  } else {
    const repeated = groupRuns(rows).some((g) => g.length > 1);
    writeSection(out, label, [`### ${label}`, '', from, '', repeated ? meanTable(rows) : table(rows)].join('\n'));
  }
  process.stderr.write(`bench:accuracy: wrote ${out} (section ${label}, ${rows.length} rows)\n`);
}

/** The options `runLoo` reads. */
interface LooValues {
  data: string; models: string; out: string; backend: string; label?: string; seeds?: string; seed?: string;
  variants?: string; 'model-options'?: string; 'max-minutes'?: string; 'max-epochs'?: string;
  patience?: string; loss?: string; threads?: string; epochs: string;
}

/** A seq-loo-v1 folder: `compare` per model and seed, then the full-ranking section. */
async function runLoo(values: LooValues): Promise<void> {
  if (values.seed !== undefined) throw new Error('on a seq-loo-v1 folder give --seeds (e.g. --seeds 0,1,2)');
  if (process.argv.slice(2).some((a) => a === '--epochs' || a.startsWith('--epochs='))) {
    throw new Error('on a seq-loo-v1 folder give --max-epochs, --patience and --max-minutes, not --epochs');
  }
  const seeds = (values.seeds ?? '0').split(',').map((x) => x.trim());
  if (seeds.some((x) => !/^\d+$/.test(x))) throw new Error(`--seeds must list non-negative integers, got '${values.seeds}'`);
  const models = process.argv.slice(2).some((a) => a === '--models' || a.startsWith('--models=')) ?
    values.models.split(',').map((m) => m.trim()) : ['sasrec', 'gru4rec'];
  const passed: string[] = ['--data', values.data, '--backend', values.backend];
  for (const key of ['variants', 'model-options', 'max-minutes', 'max-epochs', 'patience', 'loss', 'threads'] as const) {
    if (values[key] !== undefined) passed.push(`--${key}`, values[key] as string);
  }
  const rows: Row[] = [];
  const started = Date.now();
  const loads: string[] = [];
  for (const model of models) {
    for (const seed of seeds) {
      loads.push(os.loadavg()[0].toFixed(1));
      for (const row of await compare(['--model', model, '--seed', seed, ...passed])) {
        // Popularity does not depend on the model or the seed: one row per folder.
        if (row.variant === 'popularity' && rows.some((r) => r.variant === 'popularity')) continue;
        const full = { ...row, data: values.data };
        rows.push(full);
        process.stdout.write(`${JSON.stringify(full)}\n`);
      }
    }
  }
  loads.push(os.loadavg()[0].toFixed(1));
  const m = machineInfo();
  const label = values.label ?? `${path.basename(path.resolve(values.data))}-seeds-${seeds.join('-')}`;
  const command = `npm run bench:accuracy -- ${process.argv.slice(2).join(' ')}`;
  const from = `\`${command}\` — ${new Date().toISOString().slice(0, 10)}, ${m.cpu} (${m.cores} cores), ` +
    `backend ${String(rows[0]?.backend)}, Node ${m.node}, ${((Date.now() - started) / 60000).toFixed(0)} min, ` +
    `1-minute load average at each compare's start and at the end: ${loads.join(', ')}.`;
  writeSection(values.out, label, looBody(label, from, rows), LOO_HEADING);
  process.stderr.write(`bench:accuracy: wrote ${values.out} (section ${label})\n`);
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
      // seq-loo-v1 folders only
      seeds: { type: 'string' }, 'max-minutes': { type: 'string' }, 'max-epochs': { type: 'string' },
      patience: { type: 'string' }, loss: { type: 'string' }, threads: { type: 'string' },
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
  if (isLooFolder(values.data)) {
    await runLoo(values as LooValues);
    return;
  }
  for (const key of ['seeds', 'max-minutes', 'max-epochs', 'patience', 'loss', 'threads'] as const) {
    if (values[key] !== undefined) throw new Error(`--${key} is for seq-loo-v1 folders; ${values.data} is not one`);
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
