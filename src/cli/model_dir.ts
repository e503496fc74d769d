/**
 * A trained model folder as `duet-tf train` writes it: `model.json` + `weights.bin` (`saveDuet`)
 * and `duet-tf.json` beside them, which records how the model was built and trained so
 * `duet-tf eval` (or a user) can reload and check it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type * as tfl from '@tensorflow/tfjs-layers';

import { type IdMap, ITEM_MAP_FILE, writeIdMap } from '../data/id_map';
import type { ResolvedConfig } from '../models/create_model';
import { loadDuet, saveDuet } from '../wrap/file_io';

/** The file beside `model.json` that describes the model. */
export const MODEL_INFO_FILE = 'duet-tf.json';

/** One epoch of a training run, as recorded in `duet-tf.json`. */
export interface RecordedEpoch {
  epoch: number;
  loss: number;
  seconds: number;
  samples_per_s: number;
  /** Validation metrics (only with a validation split). */
  validation?: Record<string, number>;
}

/** One training run: its options and its history. */
export interface RecordedRun {
  epochs: number;
  batch: number;
  lr: number;
  /** `--generator-lr` of a DUET run, or null when the generator used `lr`. */
  generator_lr: number | null;
  clip_norm: number | null;
  seed: number;
  validation_fraction: number | null;
  best_epoch: number;
  train_samples_per_s: number;
  /** Training threads (`--threads`); absent in files written before it existed. */
  threads?: number;
  history: RecordedEpoch[];
}

/** The contents of `duet-tf.json`. */
export interface ModelInfo {
  format: 'duet-tf-model';
  version: 1;
  /** The resolved model config: `createModel(config)` rebuilds the architecture. */
  config: ResolvedConfig;
  numItems: number;
  clickLength: number;
  /** The `--data` the model was trained on and the rows used. */
  data: { source: string; train_rows: number; max_train_rows: number | null };
  backend: string;
  /** The run that trained this model (for a DUET model: the DUET phase). */
  training: RecordedRun;
  /** For a DUET model built from a base (`--duet-from base`, `--from-base`): that base's training run, or where it was loaded. */
  base?: RecordedRun | { from: string };
}

/**
 * Saves `model` and its `duet-tf.json` to `dir` (created if missing), and the item map of the
 * data it was trained on as `items.tsv` (so the service and `recommend` speak the data's ids).
 */
export async function saveModelDir(dir: string, model: tfl.LayersModel, info: ModelInfo,
    items: IdMap | null = null): Promise<void> {
  await saveDuet(model, dir);
  fs.writeFileSync(path.join(dir, MODEL_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
  const mapFile = path.join(dir, ITEM_MAP_FILE);
  if (items !== null) await writeIdMap(mapFile, items);
  else fs.rmSync(mapFile, { force: true }); // a map left from an earlier model would lie
}

/** Reads `duet-tf.json` from `dir`, checking it is one. */
export function readModelInfo(command: string, dir: string): ModelInfo {
  const file = path.join(dir, MODEL_INFO_FILE);
  if (!fs.existsSync(dir)) throw new Error(`${command}: model folder '${dir}' does not exist`);
  if (!fs.existsSync(file)) {
    throw new Error(`${command}: '${dir}' has no ${MODEL_INFO_FILE}; it is not a model folder ` +
      `written by 'duet-tf train'`);
  }
  let info: ModelInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelInfo;
  } catch (e) {
    throw new Error(`${command}: '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  if (info === null || typeof info !== 'object' || info.format !== 'duet-tf-model' ||
      typeof info.config !== 'object' || !Number.isInteger(info.numItems) ||
      !Number.isInteger(info.clickLength)) {
    throw new Error(`${command}: '${file}' is not a duet-tf model description (it needs format, ` +
      `config, numItems and clickLength)`);
  }
  return info;
}

/** Loads a model folder: the model and its description. */
export async function loadModelDir(command: string, dir: string):
    Promise<{ model: tfl.LayersModel; info: ModelInfo }> {
  const info = readModelInfo(command, dir);
  let model: tfl.LayersModel;
  try {
    model = await loadDuet(dir);
  } catch (e) {
    throw new Error(`${command}: cannot load the model in '${dir}': ${(e as Error).message}`);
  }
  return { model, info };
}
