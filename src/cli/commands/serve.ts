/**
 * `duet-tf serve`: the generation service. Picks the backend (`--backend`, default auto), then
 * hands the remaining flags to the service's own parser.
 */
import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
import { SERVE_USAGE, serveCommand } from '../../serve/serve_command';
import { UsageError } from '../args';
import { CliIO } from '../output';

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

export async function serveCliCommand(argv: string[], io: CliIO): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout(`${SERVE_USAGE}  --backend auto|tensorflow|wasm|cpu  (default auto)\n`);
    return 0;
  }
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
