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

interface ProcessLike {
  ppid: number;
  env: Record<string, string | undefined>;
  exit(code?: number): never;
}

/** How often the parent is checked, in ms. */
const CHECK_MS = 500;

/**
 * When this process was started by npm (its `npm_command` environment is set), checks every
 * half second that its parent process is still the one it started with; once it is not, closes
 * `target` gracefully and exits (0, or 1 when closing fails). Returns a function that stops
 * watching. `force` watches whatever started the process.
 *
 * @example
 * ```ts
 * watchParent(server, { log: console.error }); // `npx duet-tf serve` stops when npx is killed
 * ```
 */
export function watchParent(target: Closable, options: { log?: (message: string) => void;
    force?: boolean } = {}): () => void {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (proc === undefined || typeof proc.ppid !== 'number') return () => undefined;
  const underNpm = typeof proc.env.npm_command === 'string' && proc.env.npm_command !== '';
  if (!underNpm && options.force !== true) return () => undefined;
  const log = options.log ?? (() => undefined);
  const parent = proc.ppid;
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
