/**
 * Saving and loading models as the standard `model.json` + `weights.bin` pair on the local file
 * system, in Node, without `@tensorflow/tfjs-node`. Saves are crash-safe (see model_folder.ts):
 * the folder always holds the previous model or the new one, complete.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { isNode, nodeRequire } from '../backend/node_env';
import { useBackend } from '../backend/use_backend';
import { ModelFolderFiles, readModelFolder, writeModelFolder } from './model_folder';

// Registers the DUET layer classes, so loading finds them even if nothing else imported them.
import '../layers/dynamic_dense';
import '../layers/parameter_generator';

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

async function nodeModules(caller: string): Promise<{ fs: FsPromises; path: PathModule }> {
  if (!isNode()) {
    throw new Error(`'${caller}' needs Node.js (it uses the file system); in a browser, save with ` +
      `model.save('indexeddb://name') or load with tf.loadLayersModel(url)`);
  }
  const req = await nodeRequire();
  return { fs: req('node:fs/promises') as FsPromises, path: req('node:path') as PathModule };
}

function toArrayBuffer(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/** Options of {@link fileSystem} and {@link saveDuet}. */
export interface SaveOptions {
  /**
   * More files written into the folder in the same atomic step (e.g. a description beside the
   * model), by name. Default: none.
   */
  files?: ModelFolderFiles;
  /** Whether a folder already holding a model may be replaced. Default true. */
  overwrite?: boolean;
  /** Files of the old folder not to keep (others are carried over). Default none. */
  drop?: readonly string[];
}

/**
 * An `IOHandler` reading and writing `dir/model.json` and `dir/weights.bin`, the layout
 * `tf.loadLayersModel` and tfjs-node's `file://` handler use. Saving replaces the folder
 * atomically (a temporary folder beside it, fsynced, then renamed into place), so a process
 * killed at any moment of a save leaves the previous model or the new one, never a mix.
 *
 * @example
 * ```ts
 * await model.save(fileSystem('./my-model'));
 * const again = await tfl.loadLayersModel(fileSystem('./my-model'));
 * ```
 */
export function fileSystem(dir: string, options: SaveOptions = {}): tf.io.IOHandler {
  if (typeof dir !== 'string' || dir === '') {
    throw new Error(`'dir' passed to 'fileSystem' must be a non-empty path, got ${String(dir)}`);
  }
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await nodeModules('fileSystem.save');
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error(`'fileSystem' saves layers models only (got a binary topology)`);
      }
      const weights = toArrayBuffer(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.userDefinedMetadata !== undefined) {
        modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      }
      await writeModelFolder(dir, {
        ...options.files, [WEIGHTS_FILE]: new Uint8Array(weights), [MODEL_FILE]: JSON.stringify(modelJson),
      }, { overwrite: options.overwrite, drop: options.drop, caller: 'fileSystem.save' });
      return {
        modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts),
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { fs, path } = await nodeModules('fileSystem.load');
      // Mid-save, the folder (or its backup) is read as one consistent set of files.
      return readModelFolder(dir, (folder) => readArtifacts(fs, path, dir, folder));
    },
  };
}

async function readArtifacts(fs: FsPromises, path: PathModule, dir: string, folder: string):
    Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.join(folder, MODEL_FILE);
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${jsonPath}: ${(e as Error).message}`);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new Error(`${jsonPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || typeof json.modelTopology !== 'object' ||
      json.modelTopology === null || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${jsonPath} is not a tfjs layers model: it needs 'modelTopology' and ` +
      `'weightsManifest'`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(folder, p);
      // A manifest names files beside model.json; never read outside the model's folder.
      const relative = path.relative(path.resolve(folder), path.resolve(file));
      if (typeof p !== 'string' || relative.startsWith('..') || path.isAbsolute(relative)) {
        throw new Error(`${jsonPath} names weights file '${String(p)}' outside ${dir}`);
      }
      let bytes: Uint8Array;
      try {
        bytes = await fs.readFile(file);
      } catch (e) {
        throw new Error(`cannot read weights file ${file} named in ${jsonPath}: ` +
          `${(e as Error).message}`);
      }
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  const weightData = tf.io.concatenateArrayBuffers(buffers);
  const expected = specs.reduce((sum, s) => sum + weightBytes(s), 0);
  if (weightData.byteLength !== expected) {
    throw new Error(`the weights files in ${dir} hold ${weightData.byteLength} bytes but ` +
      `${jsonPath} describes ${expected}: the files are truncated or do not belong together`);
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs: specs,
    weightData,
  };
  if (json.userDefinedMetadata !== undefined) {
    artifacts.userDefinedMetadata = json.userDefinedMetadata;
  }
  return artifacts;
}

const BYTES_PER_DTYPE: Record<string, number> = {
  float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2, int16: 2, complex64: 8,
};

function weightBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = BYTES_PER_DTYPE[dtype];
  if (bytes === undefined) {
    throw new Error(`weight '${spec.name}' has dtype '${dtype}', which 'fileSystem' cannot read`);
  }
  return count * bytes;
}

/**
 * Saves a model (a DUET model, or either part from {@link splitDuet}) to `dir` as
 * `model.json` + `weights.bin`, without tfjs-node. Crash-safe: the folder is replaced in one
 * step (see {@link fileSystem}); `options.files` go into the same step.
 *
 * @example
 * ```ts
 * await saveDuet(duetModel, './models/duet');
 * await saveDuet(duetModel, './models/duet', { files: { 'notes.txt': 'epoch 3' }, overwrite: false });
 * ```
 */
export async function saveDuet(model: tfl.LayersModel, dir: string, options: SaveOptions = {}):
    Promise<tf.io.SaveResult> {
  if (!(model instanceof tfl.LayersModel)) {
    throw new Error(`'model' passed to 'saveDuet' must be a tfjs-layers LayersModel`);
  }
  return model.save(fileSystem(dir, options));
}

/**
 * Loads a model saved by {@link saveDuet} (or by tfjs-node's `file://` handler), DUET layers
 * included. When no TensorFlow.js backend is loaded yet, it picks one first, as
 * `useBackend('auto')` does (tfjs-node if installed, else wasm, else cpu).
 *
 * @example
 * ```ts
 * const model = await loadDuet('./models/duet');
 * ```
 */
export async function loadDuet(dir: string): Promise<tfl.LayersModel> {
  // tfjs-core alone has no backend, and its error ("No backend found in registry") says nothing
  // of what to do: choose one the way useBackend('auto') does.
  if (Object.keys(tf.engine().registryFactory).length === 0) await useBackend('auto');
  return tfl.loadLayersModel(fileSystem(dir));
}
