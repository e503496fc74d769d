/**
 * A worker of `duet-tf serve --workers N`: loads the version its primary names, reports, listens
 * when told, and takes part in coordinated reloads (see messages.ts). Node only.
 */
import { createServer, PreparedModel, ServerHandle, ServerOptions } from '../server';
import { installShutdownHandlers } from '../shutdown';
import { isDuetMessage, PrimaryMessage, VERSION_ENV, WorkerMessage } from './messages';

/** How often a worker reports its state to the primary, in ms. */
const STATE_MS = 500;

interface WorkerProcess {
  send?(message: WorkerMessage): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  exit(code?: number): never;
  env: Record<string, string | undefined>;
}

/**
 * Runs one worker: resolves once its server is created and the primary has been told (the
 * server listens when the primary says so). A model that fails to load is reported to the
 * primary, and the process exits 1.
 */
export async function runWorker(options: ServerOptions & { port: number; host: string },
    log: (message: string) => void, handleSignals: boolean): Promise<ServerHandle> {
  const proc = process as unknown as WorkerProcess;
  const send = (m: WorkerMessage) => proc.send?.(m);
  const pinned = proc.env[VERSION_ENV];
  let server: ServerHandle;
  try {
    server = await createServer({
      ...options, version: pinned === undefined || pinned === '' ? undefined : Number(pinned),
      pollSeconds: 0, // the primary polls and coordinates
      // A dead generator thread: this worker goes (exit 1); the primary restarts it.
      onGeneratorFailure: (error) => {
        log(`duet-tf serve: worker ${process.pid} stops: ${error.message}`);
        send({ duet: 'state', status: 'failed', version: server.version });
        void server.close().finally(() => proc.exit(1));
      },
    });
  } catch (e) {
    const reason = (e as Error).message;
    log(`duet-tf serve: worker ${process.pid} failed to start: ${reason}`);
    send({ duet: 'failed', reason });
    // Let the message reach the primary before going.
    setTimeout(() => proc.exit(1), 100);
    return new Promise<ServerHandle>(() => undefined);
  }
  let pending: PreparedModel | null = null;
  proc.on('message', (message: unknown) => {
    if (!isDuetMessage<PrimaryMessage>(message)) return;
    switch (message.duet) {
      case 'listen':
        server.listen(options.port, options.host).then(
          (address) => {
            send({ duet: 'ready', url: address.url });
            reportStates();
          },
          (e: Error) => {
            send({ duet: 'failed', reason: `cannot listen on ${options.host}:${options.port}: ${e.message}` });
            setTimeout(() => proc.exit(1), 100);
          });
        break;
      case 'prepare':
        void pending?.discard();
        pending = null;
        server.prepare({ version: message.version ?? undefined }).then((prepared) => {
          pending = prepared;
          send({ duet: 'prepared', version: prepared.version, fingerprint: prepared.fingerprint });
        }, (e: Error) => send({ duet: 'prepare-failed', reason: e.message }));
        break;
      case 'activate':
        pending?.activate();
        pending = null;
        send({ duet: 'activated' });
        break;
      case 'discard':
        void pending?.discard();
        pending = null;
        break;
    }
  });
  // Once listening, the state every STATE_MS, for the primary's health port (a turn of this
  // event loop sends each: a stalled loop stops them).
  const reportStates = () => {
    const report = () => send({ duet: 'state', status: server.readiness(), version: server.version });
    report();
    setInterval(report, STATE_MS).unref?.();
  };
  send({ duet: 'loaded', version: server.version, fingerprint: server.info.fingerprint });
  if (handleSignals) installShutdownHandlers(server, { log });
  return server;
}
