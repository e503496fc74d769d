/**
 * `installShutdownHandlers`: graceful shutdown on SIGTERM/SIGINT (Node only).
 */

/** Something that can be closed gracefully, like a {@link ServerHandle}. */
export interface Closable {
  close(): Promise<void>;
}

/** Options of {@link installShutdownHandlers}. */
export interface ShutdownOptions {
  /** Signals to handle. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly string[];
  /** Exit the process once closed (code 0; 1 when closing failed). Default true. */
  exit?: boolean;
  /** Where to report the shutdown. Default: nowhere. */
  log?: (message: string) => void;
}

interface ProcessLike {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
  exit(code?: number): never;
}

/**
 * On the first of `signals`, closes `target` (finishing in-flight requests) and then exits; a
 * second signal exits at once with code 1. Returns a function removing the handlers.
 *
 * @example
 * ```ts
 * const server = await createServer({ model: './models/duet' });
 * await server.listen(8080);
 * installShutdownHandlers(server, { log: console.error });
 * ```
 */
export function installShutdownHandlers(target: Closable, options: ShutdownOptions = {}):
    () => void {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (proc === undefined || typeof proc.on !== 'function') {
    throw new Error(`'installShutdownHandlers' needs Node.js (it listens for process signals)`);
  }
  if (typeof target?.close !== 'function') {
    throw new Error(`'target' passed to 'installShutdownHandlers' must have a close() method`);
  }
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? true;
  const log = options.log ?? (() => undefined);
  let closing = false;
  const onSignal = (signal: string) => {
    if (closing) {
      log(`duet-tf serve: second ${signal}, exiting now`);
      if (exit) proc.exit(1);
      return;
    }
    closing = true;
    log(`duet-tf serve: ${signal} received, finishing in-flight requests`);
    target.close().then(() => {
      log('duet-tf serve: closed');
      if (exit) proc.exit(0);
    }, (error: unknown) => {
      log(`duet-tf serve: closing failed: ${(error as Error)?.message ?? String(error)}`);
      if (exit) proc.exit(1);
    });
  };
  // One listener per signal, so the name is known however the event was emitted.
  const listeners = signals.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, listener] of listeners) proc.on(s, listener);
  return () => {
    for (const [s, listener] of listeners) proc.off(s, listener);
  };
}

/** Something that can reload its model, like a {@link ServerHandle}. */
export interface Reloadable {
  reload(): Promise<unknown>;
}

/**
 * On `signal` (default SIGHUP), reloads `target` (the newest model version, loaded and warmed
 * before the switch); a failure is logged and the served model stays. Without a handler, SIGHUP
 * would end the process. Returns a function removing the handler.
 *
 * @example
 * ```ts
 * installReloadHandler(server, { log: console.error }); // kill -HUP <pid> reloads
 * ```
 */
export function installReloadHandler(target: Reloadable,
    options: { signal?: string; log?: (message: string) => void } = {}): () => void {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (proc === undefined || typeof proc.on !== 'function') {
    throw new Error(`'installReloadHandler' needs Node.js (it listens for process signals)`);
  }
  if (typeof target?.reload !== 'function') {
    throw new Error(`'target' passed to 'installReloadHandler' must have a reload() method`);
  }
  const signal = options.signal ?? 'SIGHUP';
  const log = options.log ?? (() => undefined);
  const listener = () => {
    log(`duet-tf serve: ${signal} received, reloading the model`);
    target.reload().then(() => log('duet-tf serve: reload done'),
      (e: unknown) => log(`duet-tf serve: reload failed, still serving the previous model: ` +
        `${(e as Error)?.message ?? String(e)}`));
  };
  proc.on(signal, listener);
  return () => {
    proc.off(signal, listener);
  };
}
