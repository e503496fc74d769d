/**
 * `duet-tf serve`: the generation service. Picks the backend (`--backend`, default auto), then
 * hands the remaining flags to the service's own parser (`parseServeArgs`, over the same option
 * table `--help` prints).
 */
import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { SERVE_OPTIONS, SERVE_REQUEST_HELP, serveCommand } from '../../serve/serve_command';
import { type CommandHelp, type OptionSpec, UsageError } from '../args';
import { CliIO } from '../output';

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The service's flags and the CLI's own `--backend`, for `--help`. */
export const SERVE_CLI_OPTIONS: Record<string, OptionSpec> = {
  ...SERVE_OPTIONS,
  backend: { type: 'string', default: 'auto', choices: BACKENDS, help: 'TensorFlow.js backend' },
};

export const SERVE_HELP: CommandHelp = {
  usage: '--model-dir DIR [options]',
  summary: "Serves a DUET model's generator over HTTP: a device posts a user's recent items and " +
    'gets the weights of its generated layers back. Routes: POST /v1/parameters, GET /v1/model, ' +
    'GET /healthz, GET /metrics. Runs until SIGTERM or Ctrl-C.',
  examples: [
    'serve --model-dir models/duet --port 8080',
    'serve --model-dir models/duet --workers 2 --cors-origin https://app.example',
  ],
  more: `${SERVE_REQUEST_HELP}\n\nthen, from another shell:\n  curl -H 'Accept: application/json' ` +
    `-d '{"sequence": [12, 7, 42]}' http://127.0.0.1:8080/v1/parameters`,
};

export async function serveCliCommand(argv: string[], io: CliIO): Promise<number> {
  const rest: string[] = [];
  let backend = 'auto';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--backend' || arg.startsWith('--backend=')) {
      backend = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i] ?? '';
      if (!BACKENDS.includes(backend)) {
        throw new UsageError(`serve: --backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);
      }
    } else {
      rest.push(arg);
    }
  }
  let running;
  try {
    await useBackend(backend as BackendChoice);
    running = await serveCommand(rest, { log: (m) => io.stderr(`${m}\n`) });
  } catch (e) {
    const message = (e as Error).message;
    // The service's parser reports flag problems with its usage text appended: keep line one.
    if (/^'duet-tf serve'/.test(message)) throw new UsageError(message.split('\n')[0]);
    throw e;
  }
  io.stderr(`duet-tf serve: listening on ${running.address.url}\n`);
  // The process now lives until a signal closes the server (handlers installed by the service),
  // or until the service has to stop (a cluster worker that cannot start): then exit non-zero.
  try {
    await running.closed;
    return 0;
  } catch (e) {
    io.stderr(`duet-tf serve: ${(e as Error).message}\n`);
    return 1;
  }
}
