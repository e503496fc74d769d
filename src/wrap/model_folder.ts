/**
 * Crash-safe model folders (Node only). A save never writes into the folder it replaces: the
 * files go to a temporary folder beside it (same directory, so the same file system), each is
 * fsynced, then one rename puts the folder in place. Replacing an existing folder takes two
 * renames (old → `.NAME.previous`, new → `NAME`); a process that dies between them leaves the
 * previous model at `.NAME.previous`, which every loader here reads in that case. So at every
 * moment of a save, whatever kills the process, `NAME` (or its backup) holds the old model or
 * the new one, complete.
 *
 * One writer per folder at a time; readers may run during a save.
 */
import { isNode, nodeRequire } from '../backend/node_env';

type FsPromises = typeof import('node:fs/promises');
type FsSync = typeof import('node:fs');
type PathModule = typeof import('node:path');

/** The files of a model folder by name (no subfolders): bytes or UTF-8 text. */
export type ModelFolderFiles = Record<string, Uint8Array | string>;

/** Options of {@link writeModelFolder}. */
export interface WriteModelFolderOptions {
  /**
   * Whether an existing folder holding a model (`model.json`) may be replaced. Default true;
   * false makes the write fail naming the folder, before anything is written.
   */
  overwrite?: boolean;
  /** Files of the old folder not to carry over (e.g. one this model no longer has). Default none. */
  drop?: readonly string[];
  /** Who is writing, for error messages. Default `'writeModelFolder'`. */
  caller?: string;
}

const PARTIAL = '.partial-';
const PREVIOUS = '.previous';

async function modules(caller: string): Promise<{ fs: FsPromises; fsSync: FsSync; path: PathModule }> {
  if (!isNode()) {
    throw new Error(`'${caller}' needs Node.js (it uses the file system); in a browser, save with ` +
      `model.save('indexeddb://name') or load with tf.loadLayersModel(url)`);
  }
  const req = await nodeRequire();
  return {
    fs: req('node:fs/promises') as FsPromises,
    fsSync: req('node:fs') as FsSync,
    path: req('node:path') as PathModule,
  };
}

/** `.NAME.previous`: where the folder being replaced waits while the new one moves in. */
function backupOf(path: PathModule, dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}${PREVIOUS}`);
}

async function exists(fs: FsPromises, p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** fsync a directory, so the renames in it survive a power loss (not possible on Windows). */
async function syncDir(fs: FsPromises, dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    await handle?.close();
  }
}

async function writeSynced(fs: FsPromises, file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Whether a process id is running (for partial folders left by a process that died). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `files` as the folder `dir`, replacing what was there atomically (see the module
 * comment). Files of the old folder that the new one does not write are carried over (hard
 * links, or copies where the file system has none); a folder holding subfolders is refused, as
 * it is not a model folder (e.g. a folder of model versions, or a project root).
 *
 * @example
 * ```ts
 * await writeModelFolder('./models/duet', { 'model.json': json, 'weights.bin': bytes });
 * ```
 */
export async function writeModelFolder(dir: string, files: ModelFolderFiles,
    options: WriteModelFolderOptions = {}): Promise<void> {
  const caller = options.caller ?? 'writeModelFolder';
  if (typeof dir !== 'string' || dir === '') {
    throw new Error(`'dir' passed to '${caller}' must be a non-empty path, got ${String(dir)}`);
  }
  const names = Object.keys(files);
  for (const name of names) {
    if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
      throw new Error(`'${caller}': file name '${name}' must be a plain name inside the folder`);
    }
  }
  const { fs, path } = await modules(caller);
  let target = path.resolve(dir);
  // Through a symlink: replace the folder it points to, not the link.
  try {
    target = await fs.realpath(target);
  } catch {
    // Does not exist yet.
  }
  const parent = path.dirname(target);
  const base = path.basename(target);
  if (base === '' || parent === target) {
    throw new Error(`'${caller}': cannot write a model folder at '${dir}'`);
  }
  await fs.mkdir(parent, { recursive: true });
  const backup = backupOf(path, target);
  // An interrupted swap left the previous model as the backup and no folder: that is the current one.
  const current = await exists(fs, target) ? target : await exists(fs, backup) ? backup : null;
  let carried: string[] = [];
  if (current !== null) {
    const stat = await fs.stat(current);
    if (!stat.isDirectory()) throw new Error(`'${caller}': '${dir}' exists and is not a folder`);
    const entries = await fs.readdir(current, { withFileTypes: true });
    const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    if (folders.length > 0) {
      throw new Error(`'${caller}': '${dir}' holds folders (${folders.slice(0, 5).join(', ')}), ` +
        `so it is not a model folder; save into a folder of its own (for model versions, ` +
        `a numbered subfolder such as '${path.join(dir, '1')}')`);
    }
    if (options.overwrite === false && entries.some((e) => e.name === 'model.json')) {
      throw new Error(`'${caller}': '${dir}' already holds a model`);
    }
    const dropped = options.drop ?? [];
    carried = entries.filter((e) => !names.includes(e.name) && !dropped.includes(e.name)).map((e) => e.name);
  }
  await removeStalePartials(fs, path, parent, base);

  const temp = path.join(parent, `.${base}${PARTIAL}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  await fs.mkdir(temp);
  try {
    for (const name of names) await writeSynced(fs, path.join(temp, name), files[name]);
    for (const name of carried) {
      const from = path.join(current as string, name);
      try {
        await fs.link(from, path.join(temp, name));
      } catch {
        await fs.copyFile(from, path.join(temp, name));
      }
    }
    await syncDir(fs, temp);
  } catch (e) {
    await fs.rm(temp, { recursive: true, force: true });
    throw e;
  }
  if (current === target) {
    // A stale backup from an earlier save that died after its swap: the folder is newer.
    await fs.rm(backup, { recursive: true, force: true });
    await fs.rename(target, backup);
  }
  await fs.rename(temp, target);
  await syncDir(fs, parent);
  await fs.rm(backup, { recursive: true, force: true });
}

/** Removes `.NAME.partial-PID-*` folders whose process is gone (saves killed midway). */
async function removeStalePartials(fs: FsPromises, path: PathModule, parent: string,
    base: string): Promise<void> {
  const prefix = `.${base}${PARTIAL}`;
  let entries: string[];
  try {
    entries = await fs.readdir(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !running(pid)) {
      await fs.rm(path.join(parent, entry), { recursive: true, force: true });
    }
  }
}

/**
 * The folder to read a model from: `dir` itself, or, while a save replacing it is between its two
 * renames (or died there), the previous model waiting at `.NAME.previous`.
 *
 * @example
 * ```ts
 * const dir = await resolveModelFolder('./models/duet');
 * ```
 */
export async function resolveModelFolder(dir: string): Promise<string> {
  const { fs, path } = await modules('resolveModelFolder');
  if (await exists(fs, dir)) return dir;
  const backup = backupOf(path, path.resolve(dir));
  return await exists(fs, backup) ? backup : dir;
}

/**
 * {@link resolveModelFolder} for synchronous callers (Node's `fs` module passed in).
 *
 * @example
 * ```ts
 * import * as fs from 'node:fs';
 * import * as path from 'node:path';
 * const dir = resolveModelFolderSync('./models/duet', fs, path);
 * ```
 */
export function resolveModelFolderSync(dir: string, fs: FsSync, path: PathModule): string {
  if (fs.existsSync(dir)) return dir;
  const backup = backupOf(path, path.resolve(dir));
  return fs.existsSync(backup) ? backup : dir;
}

/**
 * Reads several files of a model folder as one consistent set: if a save replaces the folder
 * while they are read (its identity changes), they are read again.
 *
 * @example
 * ```ts
 * const [json, info] = await readModelFolder('./models/duet', (dir) => Promise.all([...]));
 * ```
 */
export async function readModelFolder<T>(dir: string, read: (folder: string) => Promise<T>): Promise<T> {
  const { fs } = await modules('readModelFolder');
  const identity = async (folder: string) => {
    try {
      const s = await fs.stat(folder);
      return `${s.dev}:${s.ino}`;
    } catch {
      return null;
    }
  };
  for (let attempt = 0; ; attempt++) {
    const folder = await resolveModelFolder(dir);
    const before = await identity(folder);
    let result: T;
    try {
      result = await read(folder);
    } catch (e) {
      // A file that vanished or changed under the reader: retry if the folder was swapped.
      if (attempt < 4 && before !== await identity(folder)) continue;
      throw e;
    }
    if (attempt >= 4 || (before !== null && before === await identity(folder))) return result;
  }
}
