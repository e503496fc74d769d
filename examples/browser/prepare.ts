/**
 * Step 1 of the browser example: train a small DUET SASRec on synthetic data, split it, and save
 * the two halves where the page and `duet-tf serve` expect them:
 *
 *   OUT/model/device/   the device part (model.json + weights.bin), stamped with the generator's
 *                       fingerprint and layout: the page loads it as static files
 *   OUT/model/full/     the full DUET model: `duet-tf serve --model-dir OUT/model/full`
 *   OUT/catalogue.json  item ids, names and genres for the page
 *
 *   npx tsx examples/browser/prepare.ts [--out DIR] [--users N] [--items N] [--epochs N] [--force]
 *
 * Models already in OUT are kept unless --force is given.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  createModel, duetFromBase, evaluateModel, saveDuet, splitDuet, stampDeviceModel, synthetic,
  train, useBackend,
} from 'duet-tf';

import { ensureWasmOneHot } from './wasm_onehot_workaround';

/** Options of {@link prepareBrowserExample}. */
export interface PrepareOptions {
  /** Output directory. Default `examples/browser/dist`. */
  out?: string;
  /** Synthetic users. Default 300. */
  users?: number;
  /** Catalogue size. Default 120. */
  items?: number;
  /** Genres (the synthetic item clusters). Default 6. */
  genres?: number;
  /** Epochs for the base model, then as many for its DUET variant; 0 skips the base. Default 2. */
  epochs?: number;
  /** Seed of the data and the weights. Default 0. */
  seed?: number;
  /** Progress lines (default: to stderr). */
  log?: (line: string) => void;
}

/** One catalogue entry, as the page shows it. */
export interface CatalogueItem {
  id: number;
  name: string;
  genre: string;
}

/** What {@link prepareBrowserExample} wrote. */
export interface PreparedExample {
  out: string;
  deviceDir: string;
  fullDir: string;
  fingerprint: string;
  /** Parameters per user the service sends. */
  total: number;
  clickLength: number;
  catalogue: CatalogueItem[];
  /** Test AUC of the base model (null when it was not trained) and of the DUET model. */
  auc: { base: number | null; duet: number };
}

export const DEFAULT_OUT = fileURLToPath(new URL('./dist', import.meta.url));

const GENRES = ['Jazz', 'Rock', 'Folk', 'Techno', 'Classical', 'Hip-hop', 'Soul', 'Ambient'];
const WORDS_A = ['Blue', 'Silent', 'Golden', 'Midnight', 'Paper', 'Electric', 'Velvet', 'Hollow',
  'Northern', 'Crimson', 'Glass', 'Wild'];
const WORDS_B = ['Harbor', 'Engine', 'River', 'Garden', 'Signal', 'Mirror', 'Orchard', 'Station',
  'Lantern', 'Canyon'];

/** A stable, readable name per item id (ids ≤ 120 are all distinct). */
export function itemName(id: number): string {
  const a = WORDS_A[(id * 7) % WORDS_A.length];
  const b = WORDS_B[Math.floor(id / WORDS_A.length) % WORDS_B.length];
  return `${a} ${b}${id > WORDS_A.length * WORDS_B.length ? ` ${id}` : ''}`;
}

/**
 * Trains, splits, stamps and saves the example's models; returns what it wrote.
 *
 * @example
 * ```ts
 * const { deviceDir, fullDir } = await prepareBrowserExample({ out: '/tmp/duet-example' });
 * ```
 */
export async function prepareBrowserExample(options: PrepareOptions = {}): Promise<PreparedExample> {
  const out = path.resolve(options.out ?? DEFAULT_OUT);
  const users = options.users ?? 300;
  const items = options.items ?? 120;
  const genres = Math.min(options.genres ?? 6, GENRES.length);
  const epochs = options.epochs ?? 2;
  const seed = options.seed ?? 0;
  const log = options.log ?? ((line: string) => console.error(line));
  ensureWasmOneHot(); // SASRec's user state is wrong on wasm without it (see the file)

  const data = synthetic({ users, items, clusters: genres, seed });
  const { protocol } = data;
  log(`synthetic data: ${protocol.users} users, ${protocol.items} items in ${genres} genres, ` +
    `${data.train.size} training rows`);
  const trainOptions = { epochs: Math.max(epochs, 1), batchSize: 128, learningRate: 3e-3, seed };

  // The paper's flow: the shared model first, then its DUET variant starting from it.
  const base = createModel({ model: 'sasrec', variant: 'base', numItems: protocol.items, seed });
  let baseAuc: number | null = null;
  if (epochs > 0) {
    await train(base.model, { train: data.train }, trainOptions);
    baseAuc = (await evaluateModel(base.model, data.test)).auc;
    log(`base SASRec: test AUC ${baseAuc.toFixed(4)}`);
  }
  const duet = duetFromBase(base.model, base.config);
  await train(duet.model, { train: data.train }, trainOptions);
  const duetAuc = (await evaluateModel(duet.model, data.test)).auc;
  log(`DUET SASRec: test AUC ${duetAuc.toFixed(4)}`);

  // The device half carries the generator's fingerprint, so it never applies foreign parameters.
  const parts = splitDuet(duet.model);
  const meta = stampDeviceModel(parts);
  const deviceDir = path.join(out, 'model', 'device');
  const fullDir = path.join(out, 'model', 'full');
  fs.rmSync(path.join(out, 'model'), { recursive: true, force: true });
  await saveDuet(parts.device, deviceDir);
  await saveDuet(duet.model, fullDir);

  const catalogue: CatalogueItem[] = [];
  for (let id = 1; id <= protocol.items; id++) {
    catalogue.push({ id, name: itemName(id), genre: GENRES[data.truth.itemCluster[id]] });
  }
  const clickLength = data.train.clickLength;
  fs.writeFileSync(path.join(out, 'catalogue.json'), JSON.stringify({ clickLength, items: catalogue }));
  log(`saved the device model to ${deviceDir} (generator ${meta.fingerprint}, ` +
    `${parts.layout.total} parameters per user) and the full model to ${fullDir}`);
  duet.model.dispose();
  base.model.dispose();
  return {
    out, deviceDir, fullDir, fingerprint: meta.fingerprint, total: parts.layout.total,
    clickLength, catalogue, auc: { base: baseAuc, duet: duetAuc },
  };
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const num = (name: string) => {
    const v = flag(argv, name);
    return v === undefined ? undefined : Number(v);
  };
  const out = path.resolve(flag(argv, '--out') ?? DEFAULT_OUT);
  if (!argv.includes('--force') && fs.existsSync(path.join(out, 'model', 'full', 'model.json')) &&
      fs.existsSync(path.join(out, 'catalogue.json'))) {
    console.error(`the example's models are already in ${out} (pass --force to train them again)`);
  } else {
    const backend = await useBackend('auto');
    console.error(`training on backend ${backend} (a minute or a few)`);
    await prepareBrowserExample({ out, users: num('--users'), items: num('--items'), epochs: num('--epochs') });
  }
}
