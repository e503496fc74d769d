/**
 * The benchmark runner.
 *
 *   npm run bench -- [--json] [--data DIR] [--backend auto|wasm|cpu|tensorflow] [--only NAME,…] [--quick]
 *
 * Prints one line per measurement on stdout (JSON with --json), progress on stderr. Synthetic data
 * by default; --data reads a duet-seq-v1 split folder (train.txt, test.txt, protocol.json).
 */
import { parseArgs } from 'node:util';

import { type BackendChoice, useBackend } from '../src/index';
import {
  type BenchContext, type BenchData, type BenchRecord, folderBenchData, machineInfo,
  syntheticBenchData,
} from './common';
import { BENCHMARK_NAMES, runSuite } from './suite';

const USAGE = `usage: npm run bench -- [--json] [--data DIR] [--backend auto|wasm|cpu|tensorflow] ` +
  `[--only ${BENCHMARK_NAMES.join(',')}] [--quick]`;

/** One human-readable line: bench, backend, params, values. */
function formatLine(r: BenchRecord): string {
  const { bench, machine: _machine, backend, params, ...values } = r;
  const show = (o: Record<string, unknown>) => Object.entries(o)
    .filter(([, v]) => v !== undefined && !(typeof v === 'string' && v.length > 40))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
  type Groups = Array<{ kernel: string; ms: number; share: number; calls: number }>;
  const { top, topByShape, ...rest } = values as { top?: Groups; topByShape?: Groups };
  let line = `${bench.padEnd(20)} ${backend.padEnd(5)} ${show(params)} | ${show(rest)}`;
  const table = (title: string, groups: Groups) => `\n  ${title}\n` + groups.map((g) =>
    `    ${g.kernel.padEnd(60)} ${g.ms.toFixed(2).padStart(9)} ms ` +
    `${(g.share * 100).toFixed(1).padStart(5)}%  ×${g.calls}`).join('\n');
  if (top !== undefined) line += table('by kernel:', top);
  if (topByShape !== undefined) line += table('by kernel and input shapes:', topByShape);
  return line;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      data: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const names = values.only === undefined ? BENCHMARK_NAMES
    : values.only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !BENCHMARK_NAMES.includes(n));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; ${USAGE}`);
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

  const backend = await useBackend(values.backend as BackendChoice);
  const quick = values.quick === true;
  log(`backend ${backend}${quick ? ', quick' : ''}`);
  const data: BenchData = values.data === undefined ? syntheticBenchData(quick) : await folderBenchData(values.data);
  log(`data ${data.source}: ${data.train.size} train rows, ${data.test.size} test rows, ${data.numItems} items`);
  const ctx: BenchContext = { backend, machine: machineInfo(), data, quick, log };
  if (!values.json) {
    const m = ctx.machine;
    console.log(`# ${m.cpu}, ${m.cores} cores, node ${m.node}, ${m.platform}; backend ${backend}; data ${data.source}`);
  }
  await runSuite(ctx, names, (r) => console.log(values.json ? JSON.stringify(r) : formatLine(r)));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
