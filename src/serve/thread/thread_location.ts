/**
 * Where the generator thread's code is, wherever duet-tf runs: from the built package (`dist/`,
 * `serve_worker.js` beside the entry that loaded duet-tf: index or cli), or from the TypeScript
 * sources under vitest or `tsx` (`thread_entry.ts`, loaded through tsx's loader, which a plain
 * worker thread lacks). As the training worker finds its own (`train/parallel/worker_location`).
 * Node only.
 */
import { nodeRequire } from '../../backend/node_env';

/**
 * How to start the thread: a file, or a bootstrap script to evaluate.
 *
 * @example
 * ```ts
 * const where: ThreadSource = { kind: 'file', path: '/app/node_modules/duet-tf/dist/serve_worker.js' };
 * ```
 */
export type ThreadSource = { kind: 'file'; path: string } | { kind: 'eval'; code: string };

/** The path (CJS build, vite-node) or URL (ESM) of the module this code was loaded from. */
function ownLocation(): string {
  // An eval'd worker thread has a global `__filename` of '[worker eval]': only a path counts.
  if (typeof __filename === 'string' && /^([a-z]:)?[\\/]/i.test(__filename)) return __filename;
  const url = (import.meta as { url?: string }).url;
  if (typeof url === 'string' && url.length > 0) return url;
  throw new Error('duet-tf cannot tell where its generator thread is (no __filename, no import.meta.url)');
}

function toPath(location: string): string {
  return location.startsWith('file:') ? decodeURIComponent(new URL(location).pathname) : location;
}

/**
 * The generator thread of this copy of duet-tf.
 *
 * @example
 * ```ts
 * const source = await generatorThreadSource();
 * const worker = source.kind === 'file' ? new Worker(source.path) : new Worker(source.code, { eval: true });
 * ```
 */
export async function generatorThreadSource(): Promise<ThreadSource> {
  const here = toPath(ownLocation());
  const dir = here.replace(/[\\/][^\\/]*$/, '');
  if (/\.[cm]?ts$/.test(here)) {
    const req = await nodeRequire();
    const api = req.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    const entry = `file://${dir}/thread_entry.ts`;
    const code = `import(${JSON.stringify(`file://${api}`)}).then((tsx) => ` +
      `tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
    return { kind: 'eval', code };
  }
  return { kind: 'file', path: `${dir}/serve_worker.js` };
}
