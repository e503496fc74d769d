/**
 * `duet-tf serve`: argument parsing and the process around {@link createServer}, including
 * `--workers N` with Node's cluster module (Node only).
 */
import type { Cluster } from 'node:cluster';

import { isNode, nodeRequire } from '../backend/node_env';
import { startPrimary } from './cluster/primary';
import { runWorker } from './cluster/worker';
import { watchParent } from './parent_watch';
import { PAYLOAD_FORMATS, PayloadFormat } from './payload';
import { createServer, ServerAddress, ServerOptions } from './server';
import { installReloadHandler, installShutdownHandlers } from './shutdown';

/** Options of `duet-tf serve`, as {@link parseServeArgs} returns them. */
export interface ServeCommandOptions extends Omit<ServerOptions, 'model' | 'log'> {
  /** Directory of a saved DUET model or generator (`--model-dir`). Required. */
  modelDir: string;
  /** Port (`--port`). Default 8080. */
  port: number;
  /** Host (`--host`). Default `'127.0.0.1'`. */
  host: string;
  /** Processes serving the port (`--workers`); above 1, Node's cluster module. Default 1. */
  workers: number;
}

/**
 * Usage text of `duet-tf serve`.
 *
 * @example
 * ```ts
 * console.log(SERVE_USAGE);
 * ```
 */
export const SERVE_USAGE = `Usage: duet-tf serve --model-dir DIR [options]

Serves a DUET model's generator: POST /v1/parameters, GET /v1/model, /healthz (liveness),
/readyz (readiness), /metrics.

  --model-dir DIR           a model saved with saveDuet (full DUET model or generator), or a
                            folder of numbered versions (1/, 2/, ...): the highest complete
                            one is served; SIGHUP (or --poll-seconds) loads and warms a newer
                            one, then switches, requests in flight finishing on the old one
  --port N                  port (default 8080; 0 picks a free one)
  --host H                  host to bind (default 127.0.0.1)
  --workers N               processes sharing the port, via node:cluster, all serving the
                            same version (default 1)
  --poll-seconds N          check --model-dir for a new version every N s (default 0: on
                            SIGHUP only)
  --max-batch N             most sequences per generator call (default 64)
  --max-wait-ms N           how long a request waits to share a call (default 0:
                            adaptive, batches grow with the load)
  --max-queue N             most sequences waiting before 503 (default 4096)
  --max-queue-ms N          503 (Retry-After) for a request expected to wait longer than N ms
                            for the generator (default 500)
  --max-connections N       most open connections; past it new ones get a 503 (default: none)
  --max-body-bytes N        largest request body (default 1048576)
  --max-sequences N         most sequences per request (default 256)
  --format f32|f16|int8     payload format when the request names none (default f32)
  --sequence-length N       generator input length, if the model's is not fixed
  --vocab-size N            vocabulary size, if the model's cannot be read
  --token T                 require 'Authorization: Bearer T' (or env DUET_SERVE_TOKEN)
  --cors-origin O           allow browser requests from origin O (repeatable; '*' for any)
  --shutdown-timeout-ms N   how long shutdown waits for in-flight requests (default 10000)
`;

const INTEGER_FLAGS: Record<string, [keyof ServeCommandOptions, number]> = {
  '--port': ['port', 0],
  '--workers': ['workers', 1],
  '--max-batch': ['maxBatch', 1],
  '--max-wait-ms': ['maxWaitMs', 0],
  '--max-queue': ['maxQueue', 1],
  '--max-queue-ms': ['maxQueueMs', 0],
  '--max-connections': ['maxConnections', 1],
  '--poll-seconds': ['pollSeconds', 0],
  '--max-body-bytes': ['maxBodyBytes', 1],
  '--max-sequences': ['maxSequences', 1],
  '--sequence-length': ['sequenceLength', 1],
  '--vocab-size': ['vocabSize', 2],
  '--shutdown-timeout-ms': ['shutdownTimeoutMs', 0],
};

/**
 * Parses `duet-tf serve` arguments (`--flag value` or `--flag=value`); throws naming the flag on
 * anything unknown or malformed. The token may also come from `env.DUET_SERVE_TOKEN` (better
 * than the command line, which other users of the machine can read).
 *
 * @example
 * ```ts
 * parseServeArgs(['--model-dir', './models/duet', '--port', '9000', '--cors-origin', '*']);
 * // { modelDir: './models/duet', port: 9000, host: '127.0.0.1', workers: 1, cors: { origins: '*' } }
 * ```
 */
export function parseServeArgs(argv: readonly string[],
    env: Record<string, string | undefined> = {}): ServeCommandOptions {
  const out: Partial<ServeCommandOptions> & { port: number; host: string; workers: number } = {
    port: 8080, host: '127.0.0.1', workers: 1,
  };
  const origins: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      throw new Error(`'duet-tf serve': unexpected argument '${arg}'\n\n${SERVE_USAGE}`);
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (flag === '--help') throw new Error(SERVE_USAGE);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new Error(`'duet-tf serve': ${flag} needs a value`);
      value = argv[++i];
    }
    const integer = INTEGER_FLAGS[flag];
    if (integer !== undefined) {
      const [key, min] = integer;
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
        throw new Error(`'duet-tf serve': ${flag} must be an integer >= ${min}, got '${value}'`);
      }
      (out as Record<string, unknown>)[key] = n;
      continue;
    }
    switch (flag) {
      case '--model-dir': out.modelDir = value; break;
      case '--host': out.host = value; break;
      case '--token': out.token = value; break;
      case '--cors-origin': origins.push(value); break;
      case '--format':
        if (!PAYLOAD_FORMATS.includes(value as PayloadFormat)) {
          throw new Error(`'duet-tf serve': --format must be f32, f16 or int8, got '${value}'`);
        }
        out.defaultFormat = value as PayloadFormat;
        break;
      default:
        throw new Error(`'duet-tf serve': unknown option ${flag}\n\n${SERVE_USAGE}`);
    }
  }
  if (out.modelDir === undefined || out.modelDir === '') {
    throw new Error(`'duet-tf serve' needs --model-dir DIR\n\n${SERVE_USAGE}`);
  }
  if (out.port > 65535) throw new Error(`'duet-tf serve': --port must be at most 65535`);
  out.token ??= env.DUET_SERVE_TOKEN || undefined;
  if (origins.length > 0) out.cors = { origins: origins.includes('*') ? '*' : origins };
  return out as ServeCommandOptions;
}

/** A running `duet-tf serve`: one server, or a cluster primary supervising workers. */
export interface ServeProcess {
  /** The address (for a cluster, the one its workers listen on). */
  address: ServerAddress;
  /** Loads and warms the newest version, then switches to it (every worker, together). */
  reload(): Promise<void>;
  /** Closes gracefully (a primary asks every worker to close and waits for them). */
  close(): Promise<void>;
  /**
   * Resolves once closed; rejects with the reason when the service had to stop (a cluster
   * whose restarted worker cannot start).
   */
  closed: Promise<void>;
}

/** Options of {@link runServe} beside the command options. */
export interface RunServeOptions {
  /** Where to report events. Default `console.error`. */
  log?: (message: string) => void;
  /**
   * Install SIGTERM/SIGINT handlers that close and exit, SIGHUP to reload, and, when started by
   * `npm exec`/`npx`/`npm run` (whose shell does not pass signals on), stop when the parent
   * process goes away. Default true.
   */
  handleSignals?: boolean;
}

/**
 * Runs `duet-tf serve`: with `workers` ≤ 1 (or inside a cluster worker), one server; otherwise
 * the cluster primary, which forks `workers` processes that re-run the same entry script (so
 * the script must call `runServe` again, as the CLI does). The primary picks the model version,
 * lets the workers listen once all have loaded the same one, switches them together on SIGHUP
 * (or polling), restarts a worker that dies with that version, and rejects (or, running, rejects
 * `closed`) with the reason when a worker cannot start. SIGTERM/SIGINT drain and exit.
 *
 * @example
 * ```ts
 * // bin: duet-tf serve --model-dir ./models/duet --workers 2
 * await runServe(parseServeArgs(process.argv.slice(3), process.env));
 * ```
 */
export async function runServe(options: ServeCommandOptions, run: RunServeOptions = {}):
    Promise<ServeProcess> {
  if (!isNode()) throw new Error(`'runServe' needs Node.js`);
  const log = run.log ?? ((m: string) => console.error(m));
  const handleSignals = run.handleSignals ?? true;
  const cluster = (await nodeRequire())('node:cluster') as Cluster;
  const { modelDir, port, host, workers, ...serverOptions } = options;
  if (workers > 1 && cluster.isPrimary) {
    const primary = await startPrimary(cluster, {
      root: modelDir, workers, host, port, pollSeconds: options.pollSeconds ?? 0,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000, log,
    });
    if (handleSignals) {
      installShutdownHandlers(primary, { log });
      installReloadHandler(primary, { log });
      watchParent(primary, { log });
    }
    const u = new URL(primary.url);
    return {
      address: { host, port: Number(u.port), url: primary.url },
      reload: () => primary.reload(), close: () => primary.close(), closed: primary.closed,
    };
  }
  if (cluster.isWorker) {
    const server = await runWorker({ ...serverOptions, model: modelDir, port, host, log }, log, handleSignals);
    let done!: () => void;
    const closed = new Promise<void>((resolve) => { done = resolve; });
    return {
      address: server.address ?? { host, port, url: '' },
      reload: async () => { await server.reload(); },
      close: async () => { await server.close(); done(); },
      closed,
    };
  }
  const server = await createServer({ ...serverOptions, model: modelDir, log });
  const address = await server.listen(port, host);
  let done!: () => void;
  const closed = new Promise<void>((resolve) => { done = resolve; });
  const handle = {
    reload: async () => { await server.reload(); },
    close: async () => {
      await server.close();
      done();
    },
  };
  if (handleSignals) {
    installShutdownHandlers(handle, { log });
    installReloadHandler(handle, { log });
    watchParent(handle, { log });
  }
  return { address, ...handle, closed };
}

/**
 * `duet-tf serve ARGS`: parses the arguments (token also from `DUET_SERVE_TOKEN`) and runs the
 * service until SIGTERM/SIGINT.
 *
 * @example
 * ```ts
 * await serveCommand(['--model-dir', './models/duet', '--port', '8080']);
 * ```
 */
export async function serveCommand(argv: readonly string[], run: RunServeOptions = {}):
    Promise<ServeProcess> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } })
    .process?.env ?? {};
  return runServe(parseServeArgs(argv, env), run);
}
