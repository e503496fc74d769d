/**
 * A training checkpoint on disk (Node only): a folder with `checkpoint.json` (epoch, options,
 * progress, optimiser scalars, the layout of the arrays) and `tensors.bin` (weights, the best
 * epoch's weights, Adam moments, one after another), written crash-safe with
 * `writeModelFolder` (temporary folder, fsync, rename): a process killed at any moment leaves
 * the previous checkpoint or the new one, complete.
 */
import { isNode, nodeRequire } from '../../backend/node_env';
import { readModelFolder, writeModelFolder } from '../../wrap/model_folder';
import { hashArrays } from './fingerprint';
import type { AdamState, OptimizerState } from './optimizer_state';

const FORMAT = 'duet-tf-checkpoint';
const VERSION = 1;
const MANIFEST = 'checkpoint.json';
const TENSORS = 'tensors.bin';

/**
 * One weight's values, as a checkpoint stores them.
 *
 * @example
 * ```ts
 * const w: CheckpointArray = { values: new Float32Array(6), shape: [2, 3], dtype: 'float32' };
 * ```
 */
export interface CheckpointArray {
  /** The values, row-major. */
  values: Float32Array | Int32Array | Uint8Array;
  /** The shape. */
  shape: number[];
  /** The dtype. */
  dtype: 'float32' | 'int32' | 'bool';
}

/**
 * Everything a resumed run needs: where it was, its model's and optimisers' state and what its
 * training loop had gathered.
 *
 * @example
 * ```ts
 * await writeCheckpoint('ckpt', { trainer: 'train', epoch: 3, threads: 1, options, progress,
 *   weights, best: null, optimizer: stepper.exportState() });
 * ```
 */
export interface TrainingCheckpoint {
  /** The training function (`'train'`, `'trainSequence'`). */
  trainer: string;
  /** Epochs completed (from 1). */
  epoch: number;
  /** Threads the run trained on. */
  threads: number;
  /** The options a resumed run must match (plain JSON). */
  options: Record<string, unknown>;
  /** The loop's own record (history, best-so-far metric, patience counter, …), plain JSON. */
  progress: Record<string, unknown>;
  /** `model.getWeights()` after the epoch. */
  weights: CheckpointArray[];
  /** The best epoch's weights so far, or null. */
  best: CheckpointArray[] | null;
  /** The optimisers' state. */
  optimizer: OptimizerState;
}

/** JSON with non-finite numbers kept (NaN metrics, an unset best value). */
function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v, 1);
}

function decode(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && Object.keys(v).length === 1 && '$number' in v) {
      return Number((v as { $number: string }).$number);
    }
    return v;
  });
}

interface ArrayEntry { role: string; dtype: CheckpointArray['dtype']; shape: number[]; length: number; offset: number }

/**
 * Writes `checkpoint` as the folder `dir`, replacing the one there atomically.
 *
 * @example
 * ```ts
 * await writeCheckpoint('runs/ckpt', checkpoint);
 * ```
 */
export async function writeCheckpoint(dir: string, checkpoint: TrainingCheckpoint): Promise<void> {
  const arrays: Array<{ role: string; array: CheckpointArray }> = [];
  checkpoint.weights.forEach((array) => arrays.push({ role: 'weight', array }));
  checkpoint.best?.forEach((array) => arrays.push({ role: 'best', array }));
  const adams: Record<string, AdamState | null> = { main: checkpoint.optimizer.main, generator: checkpoint.optimizer.generator };
  for (const [name, adam] of Object.entries(adams)) {
    for (const { m, v } of adam?.moments ?? []) {
      arrays.push({ role: `${name}.m`, array: { values: m, shape: [m.length], dtype: 'float32' } });
      arrays.push({ role: `${name}.v`, array: { values: v, shape: [v.length], dtype: 'float32' } });
    }
  }
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const { role, array } of arrays) {
    entries.push({ role, dtype: array.dtype, shape: array.shape, length: array.values.length, offset });
    offset += Math.ceil(array.values.byteLength / 4) * 4;
  }
  const bytes = new Uint8Array(offset);
  arrays.forEach(({ array }, i) => {
    bytes.set(new Uint8Array(array.values.buffer, array.values.byteOffset, array.values.byteLength), entries[i].offset);
  });
  const scalars = (adam: AdamState | null) => adam === null ? null :
    { acc1: adam.acc1, acc2: adam.acc2, steps: adam.steps, indices: adam.moments.map((x) => x.index) };
  const manifest = {
    format: FORMAT, version: VERSION, trainer: checkpoint.trainer, epoch: checkpoint.epoch,
    threads: checkpoint.threads, options: checkpoint.options, progress: checkpoint.progress,
    optimizer: { main: scalars(checkpoint.optimizer.main), generator: scalars(checkpoint.optimizer.generator) },
    arrays: entries, bytes: offset, hash: hashArrays([new Uint32Array(bytes.buffer, 0, offset / 4)]),
  };
  await writeModelFolder(dir, { [TENSORS]: bytes, [MANIFEST]: encode(manifest) }, { caller: 'writeCheckpoint' });
}

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

/**
 * Reads the checkpoint in `dir`, or null when there is none (no folder, or no `checkpoint.json`
 * in it). A damaged one is refused, naming the folder and the problem.
 *
 * @example
 * ```ts
 * const checkpoint = await readCheckpoint('runs/ckpt'); // null before the first epoch ends
 * ```
 */
export async function readCheckpoint(dir: string): Promise<TrainingCheckpoint | null> {
  if (!isNode()) throw new Error("checkpoints need Node.js (they use the file system)");
  const req = await nodeRequire();
  const fs = req('node:fs/promises') as FsPromises;
  const path = req('node:path') as PathModule;
  const read = await readModelFolder(dir, async (folder) => {
    let text: string;
    try {
      text = await fs.readFile(path.join(folder, MANIFEST), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw e;
    }
    return { text, bytes: new Uint8Array(await fs.readFile(path.join(folder, TENSORS))) };
  });
  if (read === null) return null;
  const bad = (why: string) => new Error(`checkpoint '${dir}' cannot be resumed: ${why}`);
  let m: Record<string, unknown>;
  try {
    m = decode(read.text) as Record<string, unknown>;
  } catch (e) {
    throw bad(`${MANIFEST} is not JSON (${(e as Error).message})`);
  }
  if (m?.format !== FORMAT) throw bad(`${MANIFEST} is not a duet-tf checkpoint`);
  if (m.version !== VERSION) throw bad(`format version ${String(m.version)}, this duet-tf reads ${VERSION}`);
  const { bytes } = read;
  if (bytes.length !== m.bytes || bytes.length % 4 !== 0 ||
      hashArrays([new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)]) !== m.hash) {
    throw bad(`${TENSORS} does not match ${MANIFEST} (${bytes.length} bytes, expected ${String(m.bytes)}, or another hash)`);
  }
  const groups = new Map<string, CheckpointArray[]>();
  for (const e of m.arrays as ArrayEntry[]) {
    const buffer = bytes.buffer.slice(bytes.byteOffset + e.offset,
      bytes.byteOffset + e.offset + e.length * (e.dtype === 'bool' ? 1 : 4));
    const values = e.dtype === 'float32' ? new Float32Array(buffer) : e.dtype === 'int32' ? new Int32Array(buffer) : new Uint8Array(buffer);
    const list = groups.get(e.role) ?? [];
    list.push({ values, shape: e.shape, dtype: e.dtype });
    groups.set(e.role, list);
  }
  const optimizer = m.optimizer as Record<'main' | 'generator', { acc1: number; acc2: number; steps: number; indices: number[] } | null>;
  const adam = (name: 'main' | 'generator'): AdamState | null => {
    const s = optimizer[name];
    if (s === null) return null;
    const ms = groups.get(`${name}.m`) ?? [];
    const vs = groups.get(`${name}.v`) ?? [];
    if (ms.length !== s.indices.length || vs.length !== s.indices.length) throw bad(`the ${name} optimiser's moments are incomplete`);
    return {
      acc1: s.acc1, acc2: s.acc2, steps: s.steps,
      moments: s.indices.map((index, i) => ({ index, m: ms[i].values as Float32Array, v: vs[i].values as Float32Array })),
    };
  };
  return {
    trainer: String(m.trainer), epoch: m.epoch as number, threads: m.threads as number,
    options: m.options as Record<string, unknown>, progress: m.progress as Record<string, unknown>,
    weights: groups.get('weight') ?? [], best: groups.get('best') ?? null,
    optimizer: { main: adam('main') as AdamState, generator: adam('generator') },
  };
}
