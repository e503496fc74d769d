/**
 * `watchParent`: stops a server whose parent process went away, when that parent was the shell
 * `npm exec` / `npx` / `npm run` put between npm and the server (Node only).
 *
 * npm runs the command through `sh -c`, and on SIGTERM it signals that shell, which dies without
 * passing the signal on: the server would keep listening, orphaned, after `npx duet-tf serve`
 * was told to stop. Started that way, the server treats the loss of its parent like a SIGTERM.
 * Started any other way (directly, under a process manager, `nohup … &`), it does nothing.
 */
import type { Closable } from './shutdown';

/** The part of `process` {@link watchParent} reads. */
export interface ProcessLike {
  ppid: number;
  env: Record<string, string | undefined>;
  exit(code?: number): never;
}

/** How often the parent is checked, in ms. */
const CHECK_MS = 500;

/**
 * The parent this process had when duet-tf was loaded, before any model: by the time the server
 * listens (seconds later), an npm that got SIGTERM meanwhile may have taken its shell down, and
 * the parent read then would be init's, never to change (the server stayed up, orphaned).
 */
const STARTING_PARENT = (globalThis as { process?: { ppid?: unknown } }).process?.ppid;

/**
 * When this process was started by npm (its `npm_command` environment is set), checks every
 * half second that its parent process is still the one it started with; once it is not, closes
 * `target` gracefully and exits (0, or 1 when closing fails). Returns a function that stops
 * watching. `force` watches whatever started the process. The parent is the one the process had
 * when duet-tf was loaded, so a parent gone before the watch starts (during a model's load) is
 * noticed too.
 *
 * @example
 * ```ts
 * watchParent(server, { log: console.error }); // `npx duet-tf serve` stops when npx is killed
 * ```
 */
export function watchParent(target: Closable, options: { log?: (message: string) => void;
    force?: boolean;
    /** The parent to watch for. Default: the one this process had when duet-tf was loaded. */
    parent?: number;
    /** The process (for tests). Default: this one. */
    process?: ProcessLike } = {}): () => void {
  const proc = options.process ?? (globalThis as { process?: ProcessLike }).process;
  if (proc === undefined || typeof proc.ppid !== 'number') return () => undefined;
  const underNpm = typeof proc.env.npm_command === 'string' && proc.env.npm_command !== '';
  if (!underNpm && options.force !== true) return () => undefined;
  const log = options.log ?? (() => undefined);
  const parent = options.parent ??
    (options.process === undefined && typeof STARTING_PARENT === 'number' ? STARTING_PARENT : proc.ppid);
  const timer = setInterval(() => {
    if (proc.ppid === parent) return;
    clearInterval(timer);
    log(`duet-tf serve: the parent process (${parent}) is gone, finishing in-flight requests`);
    target.close().then(() => {
      log('duet-tf serve: closed');
      proc.exit(0);
    }, () => proc.exit(1));
  }, CHECK_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}
