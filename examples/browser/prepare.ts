/**
 * Step 1 of the browser example: train a small DUET SASRec on synthetic data, split it, and save
 * the two halves where the page and `duet-tf serve` expect them:
 *
 *   OUT/model/device/   the device part (model.json + weights.bin), stamped with the generator's
 *                       fingerprint and layout: the page loads it as static files
 *   OUT/model/full/     the full DUET model: `duet-tf serve --model-dir OUT/model/full`
 *   OUT/catalogue.json  item ids, names and genres for the page
 *
 *   OUT/service.json    which model folder `duet-tf serve` serves (read by start.ts)
 *
 *   npx tsx examples/browser/prepare.ts [--out DIR] [--users N] [--items N] [--epochs N] [--force]
 *   npx tsx examples/browser/prepare.ts --model-dir DIR [--out DIR]
 *
 * Models already in OUT are kept unless --force is given. With `--model-dir`, a DUET model trained
 * with the CLI (`duet-tf train --variant duet --out DIR`) is published instead: its device part
 * goes to OUT/model/device and the service serves DIR itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import type * as tfl from '@tensorflow/tfjs-layers';
import {
  createModel, duetFromBase, evaluateModel, IdMap, loadDuet, readItemMap, saveDuet, splitDuet,
  stampDeviceModel, synthetic, train, useBackend,
} from 'duet-tf';

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
  /** The model's index of the item. */
  id: number;
  /** The item's own id (from the model's items.tsv): what the page hands the device runtime. */
  key: string;
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
  /** Test AUC of the base model and of the DUET model (null when not trained here). */
  auc: { base: number | null; duet: number | null };
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

  fs.rmSync(path.join(out, 'model'), { recursive: true, force: true });
  const fullDir = path.join(out, 'model', 'full');
  await saveDuet(duet.model, fullDir);
  const genreOf = (id: number) => GENRES[data.truth.itemCluster[id]];
  const published = await publishDevice(duet.model, { out, fullDir, numItems: protocol.items,
    clickLength: data.train.clickLength, genreOf, log, items: IdMap.identity(protocol.items) });
  duet.model.dispose();
  base.model.dispose();
  return { ...published, auc: { base: baseAuc, duet: duetAuc } };
}

/**
 * The browser example for a model trained with the CLI (`duet-tf train --variant duet --out DIR`):
 * splits the DUET model in `modelDir`, saves its stamped device part and a catalogue for the page
 * into `out`; `duet-tf serve --model-dir modelDir` serves its generator. Items are grouped by id
 * range (the CLI model carries no genres).
 *
 * @example
 * ```ts
 * const { deviceDir } = await exportForBrowser({ modelDir: 'models/duet', out: 'examples/browser/dist' });
 * ```
 */
export async function exportForBrowser(options: { modelDir: string; out?: string; groups?: number;
    log?: (line: string) => void }): Promise<PreparedExample> {
  const modelDir = path.resolve(options.modelDir);
  const out = path.resolve(options.out ?? DEFAULT_OUT);
  const log = options.log ?? ((line: string) => console.error(line));
  const infoFile = path.join(modelDir, 'duet-tf.json');
  if (!fs.existsSync(infoFile)) {
    throw new Error(`'${modelDir}' has no duet-tf.json: pass a model folder written by 'duet-tf train'`);
  }
  const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { numItems?: unknown; clickLength?: unknown };
  if (!Number.isInteger(info.numItems) || !Number.isInteger(info.clickLength)) {
    throw new Error(`'${infoFile}' lacks numItems or clickLength`);
  }
  const numItems = info.numItems as number;
  const model = await loadDuet(modelDir);
  try {
    const size = Math.ceil(numItems / (options.groups ?? 6));
    const genreOf = (id: number) => {
      const first = Math.floor((id - 1) / size) * size + 1;
      return `Items ${first}–${Math.min(numItems, first + size - 1)}`;
    };
    fs.rmSync(path.join(out, 'model'), { recursive: true, force: true });
    // The model's own item map (from `duet-tf prepare` and `train`), or the indices themselves.
    const items = (await readItemMap(modelDir)) ?? IdMap.identity(numItems);
    const published = await publishDevice(model, { out, fullDir: modelDir, numItems,
      clickLength: info.clickLength as number, genreOf, log, items });
    return { ...published, auc: { base: null, duet: null } };
  } finally {
    model.dispose();
  }
}

/** Splits `duet`, saves the stamped device part and the page's catalogue into `out`. */
async function publishDevice(duet: tfl.LayersModel, o: { out: string; fullDir: string; numItems: number;
    clickLength: number; genreOf: (id: number) => string; log: (line: string) => void; items: IdMap }):
    Promise<Omit<PreparedExample, 'auc'>> {
  // The device half carries the generator's fingerprint, so it never applies foreign parameters,
  // and the item map, so the page speaks the catalogue's own ids.
  const parts = splitDuet(duet);
  const meta = stampDeviceModel(parts, { items: o.items });
  const deviceDir = path.join(o.out, 'model', 'device');
  await saveDuet(parts.device, deviceDir);
  const catalogue: CatalogueItem[] = [];
  for (let id = 1; id <= o.numItems; id++) {
    const key = o.items.originalOf(id) ?? String(id);
    // Ids that are just numbers get a readable name; the data's own ids are shown as they are.
    catalogue.push({ id, key, name: key === String(id) ? itemName(id) : key, genre: o.genreOf(id) });
  }
  fs.writeFileSync(path.join(o.out, 'catalogue.json'), JSON.stringify({ clickLength: o.clickLength, items: catalogue }));
  fs.writeFileSync(path.join(o.out, 'service.json'), JSON.stringify({ modelDir: o.fullDir }));
  o.log(`saved the device model to ${deviceDir} (generator ${meta.fingerprint}, ` +
    `${parts.layout.total} parameters per user); the service serves ${o.fullDir}`);
  return { out: o.out, deviceDir, fullDir: o.fullDir, fingerprint: meta.fingerprint,
    total: parts.layout.total, clickLength: o.clickLength, catalogue };
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[i + 1] : undefined;
}

/**
 * Step 1 from the command line: `--model-dir DIR` publishes a CLI-trained DUET model, otherwise
 * the example's own model is trained unless it is already in `--out` (`--force` trains again).
 */
export async function prepareFromArgs(argv: string[]): Promise<PreparedExample | null> {
  const num = (name: string) => {
    const v = flag(argv, name);
    return v === undefined ? undefined : Number(v);
  };
  const out = path.resolve(flag(argv, '--out') ?? DEFAULT_OUT);
  const modelDir = flag(argv, '--model-dir');
  if (modelDir !== undefined) {
    await useBackend('auto');
    return exportForBrowser({ modelDir, out });
  }
  const serviceFile = path.join(out, 'service.json');
  if (!argv.includes('--force') && fs.existsSync(serviceFile) &&
      path.resolve(JSON.parse(fs.readFileSync(serviceFile, 'utf8')).modelDir) === path.join(out, 'model', 'full') &&
      fs.existsSync(path.join(out, 'model', 'full', 'model.json')) && fs.existsSync(path.join(out, 'catalogue.json'))) {
    console.error(`the example's models are already in ${out} (pass --force to train them again)`);
    return null;
  }
  const backend = await useBackend('auto');
  console.error(`training on backend ${backend} (a minute or a few)`);
  return prepareBrowserExample({ out, users: num('--users'), items: num('--items'), epochs: num('--epochs') });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await prepareFromArgs(process.argv.slice(2));
}
