/**
 * The seq-loo-v1 (leave-one-out, full ranking) tables of `npm run bench:accuracy`: our runs beside
 * the published rows, repeated runs as mean ± sd, and each of issue 12's targets checked against
 * the rows themselves (so the "met / not met" lines cannot drift from the figures above them).
 */

type Row = Record<string, unknown>;

/** The six full-ranking metrics, in table order. */
export const LOO_METRICS = ['hr@5', 'ndcg@5', 'hr@10', 'ndcg@10', 'hr@20', 'ndcg@20'] as const;

/** A published figure set on the same files and rules (`../shared/PROTOCOL.md`, seq-loo-v1). */
export interface PublishedLooRow {
  /** Which of our models it is the target of (`sasrec`, `gru4rec`), or `duet-sasrec` for ICLRec. */
  target: 'sasrec' | 'gru4rec' | 'duet-sasrec';
  label: string;
  metrics: Partial<Record<(typeof LOO_METRICS)[number], number>>;
}

/** Beauty's published rows (PROTOCOL.md): S3-Rec's all-item table and ICLRec's released checkpoints. */
export const PUBLISHED_BEAUTY: readonly PublishedLooRow[] = [
  { target: 'sasrec', label: 'SASRec, published (S3-Rec paper, all-item table)',
    metrics: { 'hr@10': 0.0605, 'ndcg@10': 0.0318 } },
  { target: 'gru4rec', label: 'GRU4Rec, published (S3-Rec paper, all-item table)',
    metrics: { 'hr@10': 0.0283, 'ndcg@10': 0.0137 } },
  { target: 'duet-sasrec', label: 'ICLRec, released checkpoints',
    metrics: { 'hr@10': 0.0744, 'ndcg@10': 0.0403, 'hr@20': 0.1058, 'ndcg@20': 0.0483 } },
];

/** True when every row is a seq-loo-v1 result (what `duet-tf compare` prints on a loo folder). */
export function isLooRows(rows: readonly Row[]): boolean {
  return rows.length > 0 && rows.every((r) => r.protocol === 'seq-loo-v1');
}

const fixed = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : '–');

/** What a row's run set beyond the defaults (model options, generator lr, loss), '' for none. */
function settingsOf(r: Row): string {
  return [
    r.model_options === undefined ? '' : JSON.stringify(r.model_options).replace(/\|/g, '\\|'),
    r.generator_lr === undefined ? '' : `generator lr ${String(r.generator_lr)}`,
  ].filter((x) => x !== '').join(', ');
}

/** Runs of one experiment (model, variant, loss, budget, settings) over seeds, first-seen order. */
export function groupLooRuns(rows: readonly Row[]): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    // Popularity is deterministic: one row whatever the seeds (one per candidate set).
    const key = r.variant === 'popularity' ? `popularity ${String(r.candidates ?? '')}` :
      JSON.stringify([r.model, r.variant, r.candidates ?? null, r.loss ?? null, settingsOf(r)]);
    const group = groups.get(key) ?? [];
    if (r.variant !== 'popularity' || group.length === 0) group.push(r);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** Mean and sample standard deviation of `key` over `runs`. */
export function meanSd(runs: readonly Row[], key: string): { mean: number; sd: number } {
  const v = runs.map((r) => r[key] as number);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, sd };
}

const nameOf = (r: Row) => {
  if (r.variant === 'popularity') {
    return r.candidates === undefined ? 'popularity (the floor)' : `popularity, ${String(r.candidates)} candidates`;
  }
  const settings = settingsOf(r);
  const candidates = r.candidates === undefined ? '' : `, ${String(r.candidates)} candidates`;
  const name = `${r.variant === 'duet' ? 'DUET-' : 'base '}${String(r.model)}${candidates}`;
  return settings === '' ? name : `${name} (${settings})`;
};

const runsCell = (g: Row[]) => (g[0].variant === 'popularity' ? '–' :
  `${g.length} (seed${g.length > 1 ? 's' : ''} ${g.map((r) => String(r.seed)).join(', ')})`);

const epochsCell = (g: Row[]) => (g[0].variant === 'popularity' ? '–' :
  g.map((r) => `${String(r.best_epoch)}/${String(r.epochs)}`).join(', '));

const secondsCell = (g: Row[]) => (g[0].variant === 'popularity' ? '–' :
  g.map((r) => (typeof r.train_seconds === 'number' ? r.train_seconds.toFixed(0) : '–')).join(', '));

/**
 * The full-ranking table: published rows first, then ours (mean ± sd over seeds when a run was
 * repeated), the best epoch / epochs run and training seconds of each run.
 */
export function looTable(rows: readonly Row[], published: readonly PublishedLooRow[] = PUBLISHED_BEAUTY): string {
  const head = ['model', 'runs', ...LOO_METRICS.map((m) => m.toUpperCase()),
    'best epoch / epochs', 'train s'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const p of published) {
    lines.push(`| ${[p.label, '–', ...LOO_METRICS.map((m) => fixed(p.metrics[m])), '–', '–'].join(' | ')} |`);
  }
  for (const g of groupLooRuns(rows)) {
    const cells = LOO_METRICS.map((m) => {
      const { mean, sd } = meanSd(g, m);
      return g.length > 1 ? `${mean.toFixed(4)} ± ${sd.toFixed(4)}` : mean.toFixed(4);
    });
    const bold = g[0].variant !== 'popularity';
    lines.push(`| ${[bold ? `**${nameOf(g[0])}**` : nameOf(g[0]), runsCell(g), ...cells, epochsCell(g),
      secondsCell(g)].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** One target line: what is compared, the figures, met or not. */
function verdict(text: string, met: boolean): string {
  return `- ${text}: **${met ? 'met' : 'not met'}**`;
}

/**
 * Issue 12's targets checked on `rows`: base models against their published rows (mean over the
 * seeds run), DUET above its base on HR and NDCG at 10 and 20 in every seed, DUET-SASRec against
 * ICLRec. Only the targets the rows can answer are listed.
 */
export function looTargets(rows: readonly Row[], published: readonly PublishedLooRow[] = PUBLISHED_BEAUTY): string[] {
  const out: string[] = [];
  // Only default-settings full-ranking runs answer the targets (sampled candidates are another table).
  const runs = (model: string, variant: string) => rows.filter((r) => r.model === model && r.variant === variant &&
    settingsOf(r) === '' && r.candidates === undefined);
  const seedsOf = (g: Row[]) => g.map((r) => String(r.seed)).join(', ');
  const against = (g: Row[], p: PublishedLooRow, who: string) => {
    const keys = LOO_METRICS.filter((m) => p.metrics[m] !== undefined);
    const parts = keys.map((m) => `${m} ${meanSd(g, m).mean.toFixed(4)} vs ${(p.metrics[m] as number).toFixed(4)}`);
    out.push(verdict(`${who} ≥ ${p.label} (mean of seeds ${seedsOf(g)}: ${parts.join(', ')})`,
      keys.every((m) => meanSd(g, m).mean >= (p.metrics[m] as number))));
  };
  for (const p of published) {
    const [model, variant] = p.target === 'duet-sasrec' ? ['sasrec', 'duet'] : [p.target, 'base'];
    const g = runs(model, variant);
    if (g.length > 0) against(g, p, `${variant === 'duet' ? 'DUET-' : 'base '}${model}`);
  }
  for (const model of new Set(rows.filter((r) => r.variant !== 'popularity').map((r) => String(r.model)))) {
    const base = runs(model, 'base');
    const duet = runs(model, 'duet');
    const seeds = duet.map((r) => r.seed).filter((s) => base.some((b) => b.seed === s));
    if (seeds.length === 0) continue;
    const keys = ['hr@10', 'ndcg@10', 'hr@20', 'ndcg@20'];
    const above = seeds.every((s) => {
      const d = duet.find((r) => r.seed === s) as Row;
      const b = base.find((r) => r.seed === s) as Row;
      return keys.every((k) => (d[k] as number) > (b[k] as number));
    });
    out.push(verdict(`DUET-${model} above base ${model} on HR and NDCG at 10 and 20 in every seed ` +
      `(seeds ${seeds.map(String).join(', ')})`, above));
  }
  return out;
}
