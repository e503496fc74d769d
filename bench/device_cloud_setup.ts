/**
 * Shared by the device–cloud benchmarks (`policies.ts`, `payload_accuracy.ts`): the data
 * (synthetic by default, a MovieLens-style ratings CSV, a sequence file or a duet-seq-v1 split
 * folder with `--data`), a trained DUET SASRec (cached in `--model-dir`), and its two halves.
 *
 * Replay users: a seeded subset of the test users whose training rows are left out of training,
 * so a replay over their whole history predicts interactions the model never trained on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {
  buildDuetSplit, createModel, createRng, duetFromBase, DuetDataset, DuetSplit, evaluateModel,
  generatorFingerprint, loadDuet, readDuetSplit, readRatings, readSequenceFile, saveDuet,
  sliceDataset, splitDuet, synthetic, train, useBackend,
} from 'duet-tf';


/** Command-line options every device–cloud benchmark takes. */
export interface SetupOptions {
  /** `--data`: ratings CSV, sequence .txt, or split folder; absent: synthetic. */
  data?: string;
  /** `--model-dir`: where the trained model is cached (reused when it holds one for this data). */
  modelDir?: string;
  /** `--epochs`: epochs for the base model and then its DUET variant. */
  epochs: number;
  /** `--replay-users`: test users held out of training for the replay. */
  replayUsers: number;
  /** `--seed`. */
  seed: number;
  /** `--backend`. */
  backend: string;
}

/** Reads `--flag value` pairs: the setup's own flags, and the rest (without `--`) in `rest`. */
export function parseSetupArgs(argv: string[], defaults: Partial<SetupOptions> = {}): SetupOptions & { rest: Map<string, string> } {
  const o: SetupOptions = { epochs: 2, replayUsers: 100, seed: 0, backend: 'auto', ...defaults };
  const rest = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`expected --flag value pairs, got '${flag}'`);
    switch (flag) {
      case '--data': o.data = value; break;
      case '--model-dir': o.modelDir = value; break;
      case '--epochs': o.epochs = Number(value); break;
      case '--replay-users': o.replayUsers = Number(value); break;
      case '--seed': o.seed = Number(value); break;
      case '--backend': o.backend = value; break;
      default: rest.set(flag.slice(2), value);
    }
  }
  return { ...o, rest };
}

/** The split (synthetic 500 users × 500 items without `--data`), and a short name of its source. */
export async function loadSplit(o: SetupOptions): Promise<{ split: DuetSplit | (Omit<DuetSplit, 'protocol'>); source: string }> {
  if (o.data === undefined) {
    return { split: synthetic({ users: 500, items: 500, seed: o.seed }), source: `synthetic(users=500,items=500,seed=${o.seed})` };
  }
  const stat = fs.statSync(o.data);
  const source = path.basename(o.data);
  if (stat.isDirectory()) return { split: await readDuetSplit(o.data), source };
  const users = o.data.endsWith('.csv') ? await readRatings(o.data, { minRating: null }) : await readSequenceFile(o.data);
  return { split: buildDuetSplit(users, { source, seed: o.seed }), source };
}

/** Test users (in test-set order) of a seeded random subset of size `count`. */
export function pickReplayUsers(test: DuetDataset, count: number, seed: number): number[] {
  const users = [...new Set(test.user)];
  const rng = createRng(seed ^ 0x2545f491);
  rng.shuffle(users);
  return users.slice(0, Math.min(count, users.length)).sort((a, b) => a - b);
}

/** A trained DUET SASRec and its halves. */
export interface TrainedDuet {
  duet: tfl.LayersModel;
  generator: tfl.LayersModel;
  device: tfl.LayersModel;
  total: number;
  fingerprint: string;
  /** Test AUC of the base and DUET models (null when loaded from a cache without them). */
  auc: { base: number | null; duet: number | null };
  replayUsers: number[];
  backend: string;
}

/**
 * Loads the cached model from `modelDir` when it was trained on the same data, epochs and
 * replay users; otherwise trains base SASRec → DUET SASRec on the training rows of every user but
 * the replay users, and caches it.
 */
export async function trainedDuet(o: SetupOptions, split: { train: DuetDataset; test: DuetDataset }, source: string,
    log: (line: string) => void): Promise<TrainedDuet> {
  const backend = await useBackend(o.backend as Parameters<typeof useBackend>[0]);
  const replayUsers = pickReplayUsers(split.test, o.replayUsers, o.seed);
  const key = JSON.stringify({ source, epochs: o.epochs, seed: o.seed, replayUsers });
  const keyFile = o.modelDir === undefined ? null : path.join(o.modelDir, 'bench-key.json');
  let duet: tfl.LayersModel;
  const auc: TrainedDuet['auc'] = { base: null, duet: null };
  if (keyFile !== null && fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8') === key) {
    duet = await loadDuet(path.join(o.modelDir as string, 'full'));
    const saved = path.join(o.modelDir as string, 'bench-auc.json');
    if (fs.existsSync(saved)) Object.assign(auc, JSON.parse(fs.readFileSync(saved, 'utf8')));
    log(`loaded the trained model from ${o.modelDir}`);
  } else {
    const held = new Set(replayUsers);
    const keep: number[] = [];
    for (let r = 0; r < split.train.size; r++) if (!held.has(split.train.user[r])) keep.push(r);
    const trainSet = sliceDataset(split.train, keep);
    log(`training on ${trainSet.size} rows (${split.train.size - trainSet.size} rows of ` +
      `${replayUsers.length} replay users held out), backend ${backend}`);
    const options = { epochs: o.epochs, batchSize: 256, learningRate: 3e-3, seed: o.seed };
    const base = createModel({ model: 'sasrec', variant: 'base', numItems: split.train.numItems,
      clickLength: split.train.clickLength, seed: o.seed });
    const t0 = performance.now();
    await train(base.model, { train: trainSet }, options);
    auc.base = (await evaluateModel(base.model, split.test)).auc;
    log(`base SASRec: test AUC ${auc.base.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const d = duetFromBase(base.model, base.config);
    base.model.dispose();
    await train(d.model, { train: trainSet }, options);
    auc.duet = (await evaluateModel(d.model, split.test)).auc;
    log(`DUET SASRec: test AUC ${auc.duet.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    duet = d.model;
    if (o.modelDir !== undefined && keyFile !== null) {
      await saveDuet(duet, path.join(o.modelDir, 'full'));
      fs.writeFileSync(path.join(o.modelDir, 'bench-auc.json'), JSON.stringify(auc));
      fs.writeFileSync(keyFile, key);
    }
  }
  const parts = splitDuet(duet);
  return {
    duet, generator: parts.generator, device: parts.device, total: parts.layout.total,
    fingerprint: generatorFingerprint(parts.generator), auc, replayUsers, backend,
  };
}

/** The last `width` ids of `history`, right-padded with 0 (protocol duet-seq-v1's click rows). */
export function clickRow(history: readonly number[], width: number): Int32Array {
  const row = new Int32Array(width);
  row.set(history.slice(Math.max(0, history.length - width)));
  return row;
}

/** Device scores for rows `(target, click, params)`: inputs in the device model's order. */
export function deviceScores(device: tfl.LayersModel, targets: Int32Array, clicks: Int32Array,
    params: Float32Array, clickLength: number, total: number): Float32Array {
  const names = device.inputs.map((t) => t.sourceLayer?.name ?? t.name);
  if (names.length !== 3 || !names[0].startsWith('target') || !names[1].startsWith('click')) {
    throw new Error(`deviceScores expects device inputs [target, click, params], got [${names.join(', ')}]`);
  }
  const n = targets.length;
  const out = tf.tidy(() => device.predict([
    tf.tensor2d(Float32Array.from(targets), [n, 1]),
    tf.tensor2d(Float32Array.from(clicks), [n, clickLength]),
    tf.tensor2d(params, [n, total]),
  ]) as tf.Tensor);
  const values = Float32Array.from(out.dataSync());
  out.dispose();
  return values;
}

/** Generator output for one history per row of `clicks` (`[rows, clickLength]`). */
export function generate(generator: tfl.LayersModel, clicks: Int32Array, clickLength: number): Float32Array {
  const n = clicks.length / clickLength;
  const out = tf.tidy(() => generator.predict(tf.tensor2d(Float32Array.from(clicks), [n, clickLength])) as tf.Tensor);
  const values = Float32Array.from(out.dataSync());
  out.dispose();
  return values;
}
