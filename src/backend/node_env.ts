/**
 * Node detection and a `require` usable from both the ESM and the CJS build. This file is part of
 * the main entry, which browsers bundle too: it must import no Node module statically, and must
 * hide every Node module name from bundlers.
 */

/**
 * The part of Node's `require` duet-tf uses.
 *
 * @example
 * ```ts
 * const req: NodeRequireLike = await nodeRequire();
 * ```
 */
export interface NodeRequireLike {
  (id: string): unknown;
  resolve(id: string): string;
}

interface NodeModuleBuiltin {
  createRequire(filename: string): NodeRequireLike;
}

/**
 * Whether this code runs under Node.js (not a browser, not a web worker).
 *
 * @example
 * ```ts
 * if (isNode()) console.log('running under Node', process.versions.node);
 * ```
 */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

let cached: Promise<NodeRequireLike> | undefined;

/**
 * A Node `require` resolving from duet-tf's own location, so optional peers such as
 * `@tensorflow/tfjs-node` are found where the app installed them. Throws outside Node.
 *
 * @example
 * ```ts
 * const req = await nodeRequire();
 * console.log(req.resolve('@tensorflow/tfjs-core'));
 * ```
 */
export function nodeRequire(): Promise<NodeRequireLike> {
  if (!isNode()) return Promise.reject(new Error("'nodeRequire' needs Node.js"));
  cached ??= loadModuleBuiltin().then((m) => m.createRequire(ownLocation()));
  return cached;
}

async function loadModuleBuiltin(): Promise<NodeModuleBuiltin> {
  // Node ≥ 20.16 hands out builtins synchronously and invisibly to bundlers.
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule === 'function') {
    return proc.getBuiltinModule('module') as NodeModuleBuiltin;
  }
  // Older Node: a dynamic import whose specifier bundlers cannot see or resolve.
  const specifier = 'node:module';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as NodeModuleBuiltin;
}

/** This file's path (CJS build) or URL (ESM build); the working directory as a last resort. */
function ownLocation(): string {
  // In the CJS build `import.meta` is an empty object, so test `__filename` first.
  // An eval'd worker thread has a global `__filename` of '[worker eval]': only a path counts.
  if (typeof __filename === 'string' && /^([a-z]:)?[\\/]/i.test(__filename)) return __filename;
  const url = (import.meta as { url?: string }).url;
  if (typeof url === 'string' && url.length > 0) return url;
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.() ?? '/';
  return `${cwd.replace(/[\\/]+$/, '')}/`;
}
