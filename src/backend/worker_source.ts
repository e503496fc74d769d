/**
 * Where one of duet-tf's worker-thread entries is, wherever duet-tf runs: from the built package
 * (`dist/`, the entry's bundle beside the one that loaded duet-tf: index or cli), or from the
 * TypeScript sources under vitest or `tsx` (the entry's `.ts` file, loaded through tsx's loader,
 * which a plain worker thread lacks). Shared by the training workers and the generator thread.
 * Node only.
 */
import { nodeRequire } from './node_env';

/**
 * How to start a worker: a file, or a bootstrap script to evaluate.
 *
 * @example
 * ```ts
 * const where: WorkerSource = { kind: 'file', path: '/app/node_modules/duet-tf/dist/train_worker.js' };
 * ```
 */
export type WorkerSource = { kind: 'file'; path: string } | { kind: 'eval'; code: string };

/** A worker entry: its source file under `src/`, and its bundle's name in `dist/` (tsup.config.ts). */
export interface WorkerEntry {
  /** Path from `src/`, e.g. `'train/parallel/worker_entry.ts'`. */
  source: string;
  /** File name in `dist/`, e.g. `'train_worker.js'`. */
  built: string;
}

/** The path (CJS build, vite-node) or URL (ESM) of the module this code was loaded from. */
function ownLocation(): string {
  // An eval'd worker thread has a global `__filename` of '[worker eval]': only a path counts.
  if (typeof __filename === 'string' && /^([a-z]:)?[\\/]/i.test(__filename)) return __filename;
  const url = (import.meta as { url?: string }).url;
  if (typeof url === 'string' && url.length > 0) return url;
  throw new Error('duet-tf cannot tell where its worker threads are (no __filename, no import.meta.url)');
}

function toPath(location: string): string {
  return location.startsWith('file:') ? decodeURIComponent(new URL(location).pathname) : location;
}

/**
 * How to start `entry` in a worker thread, for this copy of duet-tf.
 *
 * @example
 * ```ts
 * const source = await workerSource({ source: 'train/parallel/worker_entry.ts', built: 'train_worker.js' });
 * const worker = source.kind === 'file' ? new Worker(source.path) : new Worker(source.code, { eval: true });
 * ```
 */
export async function workerSource(entry: WorkerEntry): Promise<WorkerSource> {
  const here = toPath(ownLocation());
  const dir = here.replace(/[\\/][^\\/]*$/, '');
  if (/\.[cm]?ts$/.test(here)) {
    // From source this file is src/backend/worker_source.ts: entries are relative to src/.
    const req = await nodeRequire();
    const api = req.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    const file = `file://${dir.replace(/[\\/]backend$/, '')}/${entry.source}`;
    const code = `import(${JSON.stringify(`file://${api}`)}).then((tsx) => ` +
      `tsx.tsImport(${JSON.stringify(file)}, ${JSON.stringify(file)}))`;
    return { kind: 'eval', code };
  }
  return { kind: 'file', path: `${dir}/${entry.built}` };
}
