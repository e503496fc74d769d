/**
 * Model versions on disk, as TensorFlow Serving lays them out: a model root holding numbered
 * version folders (`models/duet/1`, `models/duet/2`, …), each a saved model. The service serves
 * the highest complete version. A root that holds `model.json` itself is one unversioned model.
 *
 * A version is complete when its folder has `model.json` (saves are atomic, so a folder being
 * written has another name until it is done; see `writeModelFolder`). Node only.
 */
import { isNode, nodeRequire } from '../../backend/node_env';

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

/** Which model a root resolves to. */
export interface ModelSource {
  /** The root given (`--model-dir`). */
  root: string;
  /** The version number, or null for a root that is itself a model folder. */
  version: number | null;
  /** The folder to load. */
  path: string;
}

async function modules(): Promise<{ fs: FsPromises; path: PathModule }> {
  if (!isNode()) throw new Error(`model versions need Node.js (they live on the file system)`);
  const req = await nodeRequire();
  return { fs: req('node:fs/promises') as FsPromises, path: req('node:path') as PathModule };
}

async function hasModel(fs: FsPromises, path: PathModule, dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, 'model.json'));
    return true;
  } catch {
    return false;
  }
}

/**
 * The complete versions under `root`, ascending: numbered folders holding `model.json` (or,
 * while a save replaces one, its `.N.previous` backup).
 *
 * @example
 * ```ts
 * await listModelVersions('./models/duet'); // [1, 2, 5]
 * ```
 */
export async function listModelVersions(root: string): Promise<number[]> {
  const { fs, path } = await modules();
  let entries: string[];
  try {
    entries = await fs.readdir(root);
  } catch (e) {
    throw new Error(`cannot read model folder '${root}': ${(e as Error).message}`);
  }
  const found = new Set<number>();
  for (const entry of entries) {
    const m = /^(?:\.)?(\d{1,15})(\.previous)?$/.exec(entry);
    if (m === null || (m[2] !== undefined) !== entry.startsWith('.')) continue;
    const version = Number(m[1]);
    if (String(version) !== m[1]) continue; // no leading zeros: '007' is not version 7
    if (m[2] !== undefined && entries.includes(m[1])) continue; // the folder itself is there
    if (await hasModel(fs, path, path.join(root, entry))) found.add(version);
  }
  return [...found].sort((a, b) => a - b);
}

/**
 * What to serve from `root`: the folder itself when it holds `model.json`, else its highest
 * complete version (or `version`, when pinned). Throws saying what the root holds otherwise.
 *
 * @example
 * ```ts
 * const { version, path } = await resolveModelSource('./models/duet'); // { version: 5, path: 'models/duet/5' }
 * ```
 */
export async function resolveModelSource(root: string, version?: number): Promise<ModelSource> {
  const { fs, path } = await modules();
  if (version === undefined && await hasModel(fs, path, root)) return { root, version: null, path: root };
  const versions = await listModelVersions(root);
  if (version !== undefined) {
    if (!versions.includes(version)) {
      throw new Error(`model folder '${root}' has no complete version ${version} (versions: ` +
        `${versions.join(', ') || 'none'})`);
    }
  } else if (versions.length === 0) {
    throw new Error(`model folder '${root}' holds no model.json and no numbered version folder ` +
      `with one (e.g. '${path.join(root, '1')}/model.json')`);
  }
  const chosen = version ?? versions[versions.length - 1];
  const plain = path.join(root, String(chosen));
  const folder = await hasModel(fs, path, plain) ? plain : path.join(root, `.${chosen}.previous`);
  return { root, version: chosen, path: folder };
}

/**
 * A cheap identity of what `root` would serve now, for polling: the version number and the
 * served folder's inode and `model.json` modification time (an atomic save gives a new folder).
 *
 * @example
 * ```ts
 * if (await sourceIdentity(root) !== last) await server.reload();
 * ```
 */
export async function sourceIdentity(root: string): Promise<string> {
  const { fs, path } = await modules();
  const source = await resolveModelSource(root);
  const [dir, json] = await Promise.all([fs.stat(source.path), fs.stat(path.join(source.path, 'model.json'))]);
  return `${source.version ?? '-'}:${dir.dev}:${dir.ino}:${json.mtimeMs}`;
}
