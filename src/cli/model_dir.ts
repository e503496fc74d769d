/**
 * A trained model folder as `duet-tf train` writes it: `model.json` + `weights.bin` (`saveDuet`)
 * and `duet-tf.json` beside them, which records how the model was built and trained so
 * `duet-tf eval` (or a user) can reload and check it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type * as tfl from '@tensorflow/tfjs-layers';

import { formatIdMap, type IdMap, ITEM_MAP_FILE } from '../data/id_map';
import type { ResolvedConfig } from '../models/create_model';
import { loadDuet, saveDuet } from '../wrap/file_io';
import { readModelFolder, resolveModelFolderSync } from '../wrap/model_folder';
import { UsageError } from './args';

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
  /** `'seq-loo-v1'` for sequence-level training on a seq-loo-v1 folder (then `epochs` counts the epochs run). */
  protocol?: 'seq-loo-v1';
  /** seq-loo-v1: the sequence loss. */
  loss?: string;
  /** seq-loo-v1: `--max-epochs`. */
  max_epochs?: number;
  /** seq-loo-v1: `--patience`. */
  patience?: number;
  /** seq-loo-v1: `--max-minutes`, or null. */
  max_minutes?: number | null;
  /** seq-loo-v1: why training stopped (`'patience'`, `'time'`, `'max-epochs'`). */
  stopped?: string;
  /** seq-loo-v1: wall time of the training call (epochs and validations), in seconds. */
  seconds?: number;
  /** DUET from a trained base: whether only the generator trained (`--static frozen`). */
  freeze_static?: boolean;
  /** seq-loo-v1, DUET from a trained base: validation of the starting weights (epoch 0, the base). */
  start_validation?: Record<string, number>;
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
 * data it was trained on as `items.tsv` (so the service and `recommend` speak the data's ids), in
 * one crash-safe step: a process killed meanwhile leaves the previous folder or the new one.
 * With `overwrite: false` an existing model there is refused.
 */
export async function saveModelDir(dir: string, model: tfl.LayersModel, info: ModelInfo,
    items: IdMap | null = null, { overwrite = true }: { overwrite?: boolean } = {}): Promise<void> {
  await saveDuet(model, dir, {
    files: {
      [MODEL_INFO_FILE]: `${JSON.stringify(info, null, 2)}\n`,
      ...(items === null ? {} : { [ITEM_MAP_FILE]: formatIdMap(items) }),
    },
    // A map left from an earlier model would lie.
    drop: items === null ? [ITEM_MAP_FILE] : [],
    overwrite,
  });
}

/**
 * Refuses, before any work, an output folder that already holds a model, unless `force`: a
 * training run must not replace a model by accident.
 */
export function checkOutputFolder(command: string, dir: string, force: boolean): void {
  const folder = resolveModelFolderSync(dir, fs, path);
  // A folder of folders (model versions, a project) is never a model folder: say so before
  // training rather than after.
  const folders = fs.existsSync(folder) && fs.statSync(folder).isDirectory() ?
    fs.readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
  if (folders.length > 0) {
    throw new UsageError(`${command}: --out '${dir}' holds folders (${folders.slice(0, 5).join(', ')}); ` +
      `write the model into a folder of its own (for a new version, e.g. '${path.join(dir, String(nextVersion(folders)))}')`);
  }
  if (force) return;
  const held = ['model.json', MODEL_INFO_FILE].filter((f) => fs.existsSync(path.join(folder, f)));
  if (held.length > 0) {
    throw new UsageError(`${command}: --out '${dir}' already holds a model (${held.join(', ')}); ` +
      `pass --force to replace it, or choose another folder`);
  }
}

/** The number after the highest numbered folder (1 when there is none). */
function nextVersion(folders: string[]): number {
  const numbers = folders.filter((f) => /^\d+$/.test(f)).map(Number);
  return numbers.length === 0 ? 1 : Math.max(...numbers) + 1;
}

/** Reads `duet-tf.json` from `dir` (or, mid-save, its previous version), checking it is one. */
export function readModelInfo(command: string, given: string): ModelInfo {
  const dir = resolveModelFolderSync(given, fs, path);
  const file = path.join(dir, MODEL_INFO_FILE);
  if (!fs.existsSync(dir)) throw new Error(`${command}: model folder '${given}' does not exist`);
  if (!fs.existsSync(file)) {
    throw new Error(`${command}: '${given}' has no ${MODEL_INFO_FILE}; it is not a model folder ` +
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

/**
 * Loads the model folder of `--from-base DIR`; refused, naming it, unless it holds a base model
 * of architecture `model` trained with the item ids of the data (`data.items`: its item map, or
 * null when it has none, as `--data synthetic`).
 */
export async function loadBaseModelDir(command: string, dir: string, model: string,
    data: { name: string; items: IdMap | null }): Promise<{ model: tfl.LayersModel; info: ModelInfo }> {
  const loaded = await loadModelDir(command, dir);
  const saved = loaded.info.config;
  const refuse = (message: string): never => {
    loaded.model.dispose();
    throw new UsageError(`${command}: --from-base '${dir}' ${message}`);
  };
  if (saved.variant !== 'base') refuse(`holds a ${saved.variant} model; it must be a base model`);
  if (saved.model !== model) refuse(`holds a ${saved.model} model, but --model is ${model}`);
  if (!sameItems(loaded.itemMap, data.items)) {
    refuse(`was trained with other item ids than '${data.name}' (their ${ITEM_MAP_FILE} differ); ` +
      'train the base on this data');
  }
  return { model: loaded.model, info: loaded.info };
}

/**
 * Loads the model folder `dir` to score `data` (`eval`); refused, naming both, when the model was
 * trained with other item ids than the data's.
 */
export async function loadModelDirFor(command: string, dir: string,
    data: { name: string; items: IdMap | null }): Promise<{ model: tfl.LayersModel; info: ModelInfo }> {
  const loaded = await loadModelDir(command, dir);
  if (!sameItems(loaded.itemMap, data.items)) {
    loaded.model.dispose();
    throw new UsageError(`${command}: the model in '${dir}' was trained with other item ids than ` +
      `'${data.name}' (their ${ITEM_MAP_FILE} differ); score it on the data it was trained on`);
  }
  return { model: loaded.model, info: loaded.info };
}

/**
 * Whether a model folder's item map (the text of its items.tsv, or null) is `items`. A model
 * trained with other item ids would score the wrong items silently: same counts, other meaning.
 */
function sameItems(itemMap: string | null, items: IdMap | null): boolean {
  return itemMap === (items === null ? null : formatIdMap(items));
}

/**
 * Loads a model folder: the model, its description and its item map (the text of `items.tsv`,
 * null when it has none), read as one consistent set.
 */
export async function loadModelDir(command: string, dir: string):
    Promise<{ model: tfl.LayersModel; info: ModelInfo; itemMap: string | null }> {
  readModelInfo(command, dir); // the clear errors for a missing or foreign folder
  return readModelFolder(dir, async (folder) => {
    const info = readModelInfo(command, folder);
    let model: tfl.LayersModel;
    try {
      model = await loadDuet(folder);
    } catch (e) {
      throw new Error(`${command}: cannot load the model in '${dir}': ${(e as Error).message}`);
    }
    const itemFile = path.join(folder, ITEM_MAP_FILE);
    const itemMap = fs.existsSync(itemFile) ? fs.readFileSync(itemFile, 'utf8') : null;
    return { model, info, itemMap };
  });
}
