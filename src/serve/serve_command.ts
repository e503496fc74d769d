/**
 * `duet-tf serve`: argument parsing and the process around {@link createServer}, including
 * `--workers N` with Node's cluster module (Node only).
 */
import type { Cluster } from 'node:cluster';

import { isNode, nodeRequire } from '../backend/node_env';
import type { OptionSpec } from '../options/option_table';
import { startPrimary } from './cluster/primary';
import { runWorker } from './cluster/worker';
import { serveClusterMetrics } from './metrics';
import { watchParent } from './parent_watch';
import { PAYLOAD_FORMATS } from './payload';
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

/** One flag of `duet-tf serve`: an {@link OptionSpec} with the option it sets. */
interface ServeFlag extends OptionSpec {
  type: 'string' | 'integer';
  /** The field of {@link ServeCommandOptions} it sets (`cors` collects `--cors-origin`). */
  key: keyof ServeCommandOptions;
}

/**
 * The flags of `duet-tf serve`, as an option table: {@link parseServeArgs} reads them and the
 * usage text lists them, so a flag added here is parsed and documented at once. Defaults are
 * the service's (`createServer`'s) and are shown, not filled in, except `port`, `host` and
 * `workers`.
 *
 * @example
 * ```ts
 * for (const [name, flag] of Object.entries(SERVE_OPTIONS)) console.log(`--${name}: ${flag.help}`);
 * ```
 */
export const SERVE_OPTIONS: Readonly<Record<string, ServeFlag>> = {
  'model-dir': { key: 'modelDir', type: 'string', required: true, help: "a model folder from 'duet-tf train', or one saved with saveDuet (full DUET model or generator); its items.tsv, when present, makes requests speak your item ids. Or a folder of numbered versions (1/, 2/, ...): the highest complete one is served; SIGHUP (or --poll-seconds) loads and warms a newer one, then switches, requests in flight finishing on the old one" },
  port: { key: 'port', type: 'integer', min: 0, max: 65535, default: 8080, help: 'port (0 picks a free one)' },
  host: { key: 'host', type: 'string', default: '127.0.0.1', help: 'host to bind' },
  workers: { key: 'workers', type: 'integer', min: 1, default: 1, help: 'processes sharing the port, via node:cluster, all serving the same version; one that cannot start stops the service (non-zero exit)' },
  'poll-seconds': { key: 'pollSeconds', type: 'integer', min: 0, default: 0, help: 'check --model-dir for a new version every N s (0: on SIGHUP only)' },
  'generator-thread': { key: 'generatorThread', type: 'string', choices: ['on', 'off'], defaultText: 'on, off with --backend tensorflow (tfjs-node does not load in a second thread)', help: "run the generator in a worker thread of its own (its own backend instance, the same choice as --backend), so its calls do not hold up the thread that reads, refuses and answers requests; off: on the server's thread. If the thread dies, requests get 500 generator_failed, /readyz and /healthz say failed, and the service exits 1 (a --workers worker exits and is restarted)" },
  'max-batch': { key: 'maxBatch', type: 'integer', min: 1, default: 64, help: 'most sequences per generator call' },
  'max-wait-ms': { key: 'maxWaitMs', type: 'integer', min: 0, default: 0, help: 'how long a request waits to share a call (0: adaptive, batches grow with the load)' },
  'max-queue': { key: 'maxQueue', type: 'integer', min: 1, default: 4096, help: 'most sequences waiting for the generator; past it 503 overloaded (Retry-After)' },
  'max-queue-ms': { key: 'maxQueueMs', type: 'integer', min: 0, default: 500, help: 'a request expected to wait longer than this for the generator (sequences ahead × the measured time per sequence, call after call) gets 503 overloaded (Retry-After) at once' },
  'max-retry-after': { key: 'maxRetryAfterSeconds', type: 'integer', min: 1, default: 4, help: 'longest Retry-After (s) a connection that keeps retrying sooner than told is given: each early retry in a row doubles it up to this (1: no growth)' },
  'health-port': { key: 'healthPort', type: 'integer', min: 0, max: 65535, defaultText: 'none', help: 'also answer /healthz and /readyz on this port, from a thread (or, with --workers, the primary) that answers in milliseconds however loaded the service is; point orchestrator probes at it' },
  'max-connections': { key: 'maxConnections', type: 'integer', min: 1, defaultText: 'no limit', help: 'most open connections; past it a new connection gets a 503 and is closed' },
  'max-body-bytes': { key: 'maxBodyBytes', type: 'integer', min: 1, default: 1 << 20, help: 'largest request body' },
  'max-sequences': { key: 'maxSequences', type: 'integer', min: 1, default: 256, help: 'most sequences per request' },
  format: { key: 'defaultFormat', type: 'string', choices: PAYLOAD_FORMATS, default: 'f32', help: 'binary payload format when a request asks for the binary payload without naming one' },
  'unknown-ids': { key: 'unknownIds', type: 'string', choices: ['error', 'skip'], default: 'error', help: "item ids the model does not know: a 400 naming them, or 'skip' them (a request may say so itself)" },
  'sequence-length': { key: 'sequenceLength', type: 'integer', min: 1, defaultText: "the model's", help: 'generator input length, if the model does not fix it' },
  'vocab-size': { key: 'vocabSize', type: 'integer', min: 2, defaultText: "the model's", help: 'vocabulary size, if it cannot be read from the model' },
  token: { key: 'token', type: 'string', defaultText: 'env DUET_SERVE_TOKEN, else none', help: "require 'Authorization: Bearer T'" },
  'cors-origin': { key: 'cors', type: 'string', repeatable: true, defaultText: 'none', help: "allow browser requests from this origin ('*' for any)" },
  'shutdown-timeout-ms': { key: 'shutdownTimeoutMs', type: 'integer', min: 0, default: 10_000, help: 'how long shutdown (SIGTERM) waits for in-flight requests; new ones get 503 shutting_down meanwhile' },
};

/**
 * What `POST /v1/parameters` takes and answers, for `duet-tf serve --help`.
 *
 * @example
 * ```ts
 * console.log(SERVE_REQUEST_HELP);
 * ```
 */
export const SERVE_REQUEST_HELP = `request: POST /v1/parameters with a JSON body holding one of
  {"sequence": ["B001", "B007", 42]}          one user's items, oldest first
  {"sequences": [["B001"], ["B007", "B003"]]}  several users (at most --max-sequences)
  {"embeddings": [[0.1, ...], ...]}            one user's item embeddings [time, dim] (privacy)
  {"embeddingSequences": [[[...], ...], ...]}  several users' embeddings
and, with sequence(s), optionally
  "ids": "original" | "internal"   your ids, as in the items.tsv that 'duet-tf train' puts in
                                   the model folder (strings, or numbers matched by their
                                   text), or the model's indices 1..N. Default: original when
                                   the model folder has items.tsv, else internal.
  "unknownIds": "error" | "skip"   ids the model does not know: a 400 naming them, or dropped
                                   (default --unknown-ids)
Long sequences keep their last items; an empty one is refused. GET /v1/model says which ids
the service reads.

answer (200): JSON by default,
  {"fingerprint", "format": "f32", "layout", "parameters": [[...], ...]}
or the compact binary payload (decodePayload; what the device runtime asks for) with
  Accept: application/octet-stream, or a format named by ?format=f32|f16|int8 or the
  X-Duet-Format header (binary in that format; default --format).
errors: {"error": {"code", "message"}} with a 4xx status (400 bad or unknown ids or body,
  401 token, 404 route, 413 body too large) or 503 (overloaded: queue full or too long a wait,
  with Retry-After; shutting_down: draining). Other routes: GET /v1/model (the version served
  and what it accepts), GET /healthz (liveness), GET /readyz (readiness: 503 while overloaded
  or draining), GET /metrics (Prometheus).`;

/** `--flag VALUE  help (default X)` lines, for {@link SERVE_USAGE}. */
function flagLines(): string {
  return Object.entries(SERVE_OPTIONS).map(([name, f]) => {
    const value = f.choices ? f.choices.join('|') : f.type === 'integer' ? 'N' : 'VALUE';
    const dflt = f.required ? ' (required)' : ` (default ${f.defaultText ?? String(f.default)})`;
    return `  --${name} ${value}\n      ${f.help}${f.repeatable ? ' (repeatable)' : ''}${dflt}`;
  }).join('\n');
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

${flagLines()}

${SERVE_REQUEST_HELP}
`;

const FLAGS_BY_NAME = new Map(Object.entries(SERVE_OPTIONS).map(([name, f]) => [`--${name}`, f]));

/**
 * Parses `duet-tf serve` arguments (`--flag value` or `--flag=value`, the flags of
 * {@link SERVE_OPTIONS}); throws naming the flag on anything unknown or malformed. The token may
 * also come from `env.DUET_SERVE_TOKEN` (better than the command line, which other users of the
 * machine can read).
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
    if (arg === '-h') throw new Error(SERVE_USAGE);
    if (!arg.startsWith('--')) {
      throw new Error(`'duet-tf serve': unexpected argument '${arg}'\n\n${SERVE_USAGE}`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (name === '--help') throw new Error(SERVE_USAGE);
    const flag = FLAGS_BY_NAME.get(name);
    if (flag === undefined) throw new Error(`'duet-tf serve': unknown option ${name}\n\n${SERVE_USAGE}`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new Error(`'duet-tf serve': ${name} needs a value`);
      value = argv[++i];
    }
    if (flag.type === 'integer') {
      const n = Number(value);
      const min = flag.min ?? 0;
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
        throw new Error(`'duet-tf serve': ${name} must be an integer >= ${min}, got '${value}'`);
      }
      if (flag.max !== undefined && n > flag.max) {
        throw new Error(`'duet-tf serve': ${name} must be at most ${flag.max}`);
      }
      (out as Record<string, unknown>)[flag.key] = n;
      continue;
    }
    if (flag.choices !== undefined && !flag.choices.includes(value)) {
      const list = flag.choices.length === 2 ? flag.choices.join(' or ') :
        `${flag.choices.slice(0, -1).join(', ')} or ${flag.choices[flag.choices.length - 1]}`;
      throw new Error(`'duet-tf serve': ${name} must be ${list}, got '${value}'`);
    }
    if (flag.key === 'cors') origins.push(value);
    else if (flag.key === 'generatorThread') out.generatorThread = value === 'on';
    else (out as Record<string, unknown>)[flag.key] = value;
  }
  if (out.modelDir === undefined || out.modelDir === '') {
    throw new Error(`'duet-tf serve' needs --model-dir DIR\n\n${SERVE_USAGE}`);
  }
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
    // Workers' /metrics ask the primary for the sum over every worker.
    await serveClusterMetrics();
    const primary = await startPrimary(cluster, {
      root: modelDir, workers, host, port, pollSeconds: options.pollSeconds ?? 0,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000, healthPort: options.healthPort, log,
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
    // The primary answers the health port for all workers.
    const server = await runWorker({ ...serverOptions, healthPort: undefined, model: modelDir, port, host, log },
      log, handleSignals);
    let done!: () => void;
    const closed = new Promise<void>((resolve) => { done = resolve; });
    return {
      address: server.address ?? { host, port, url: '' },
      reload: async () => { await server.reload(); },
      close: async () => { await server.close(); done(); },
      closed,
    };
  }
  let done!: () => void;
  let stop!: (reason: Error) => void;
  const closed = new Promise<void>((resolve, reject) => {
    done = resolve;
    stop = reject;
  });
  // A dead generator thread: the service cannot answer any more; it closes and the command
  // exits non-zero with the reason (an orchestrator restarts it).
  let failed: Error | null = null;
  const server = await createServer({ ...serverOptions, model: modelDir, log,
    onGeneratorFailure: (error) => {
      failed = error;
      void server.close().then(() => stop(new Error(`stopping: ${error.message}`)));
    } });
  const address = await server.listen(port, host);
  const handle = {
    reload: async () => { await server.reload(); },
    close: async () => {
      await server.close();
      if (failed === null) done();
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
